"""The import contracts in pyproject.toml hold, and a forbidden import breaks them.

`make lint` runs `lint-imports`; these tests show the contracts catch what they are for, on a
copy of the packages with one forbidden import added.
"""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.support.servers import BIN, ROOT

PACKAGES = ("webapp", "twilio_emulator")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "lint-imports"), "--no-cache"],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": str(BIN)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def copy_with_import(tmp_path: Path, module: str, line: str) -> Path:
    """The packages and their contracts copied into `tmp_path`, `line` added to `module`."""
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    path = tmp_path / (module.replace(".", "/") + ".py")
    path.write_text(path.read_text() + f"\n{line}\n")
    return tmp_path


def test_the_import_contracts_hold() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract", "broken"),
    [
        (
            "twilio_emulator.sids",
            "import webapp.config",
            "The Twilio emulator imports nothing of Parley's",
            "twilio_emulator.sids -> webapp.config",
        ),
        (
            "webapp.cli",
            "from twilio_emulator.state import EmulatorState",
            "Parley imports only the emulator's credentials, app factory and CLI",
            "webapp.cli -> twilio_emulator.state",
        ),
        (
            "webapp.events.types",
            "import flask",
            "events/ imports no web or Twilio package",
            "webapp.events.types -> flask",
        ),
        (
            "webapp.events.broker",
            "from webapp.twilio_gateway import GatewayError",
            "events/ imports no web or Twilio package",
            "webapp.events.broker -> webapp.twilio_gateway",
        ),
        (
            "webapp.stream.sse",
            "from webapp.twilio_gateway import GatewayError",
            "stream/ imports no Twilio gateway",
            "webapp.stream.sse -> webapp.twilio_gateway",
        ),
        (
            "webapp.stream.outbox",
            "from webapp.people.contacts import Contacts",
            "stream/ imports no Twilio gateway",
            "webapp.stream.outbox -> webapp.people.contacts",
        ),
        (
            "webapp.twilio_gateway.records",
            "import webapp.webhooks.dedupe",
            "The Twilio gateway imports no route or broker",
            "webapp.twilio_gateway.records -> webapp.webhooks.dedupe",
        ),
        (
            "webapp.people.contacts",
            "from webapp.ops.metrics import Metrics",
            "Parley's packages form layers",
            "webapp.people.contacts -> webapp.ops.metrics",
        ),
        (
            "webapp.api.users",
            "import webapp.chat",
            "Parley's packages form layers",
            "webapp.api.users -> webapp.chat",
        ),
    ],
    ids=[
        "emulator-imports-parley",
        "parley-imports-emulator-internals",
        "events-imports-flask",
        "events-imports-the-gateway",
        "stream-imports-the-gateway",
        "stream-imports-people",
        "gateway-imports-a-route",
        "a-lower-layer-imports-a-higher",
        "two-web-areas-import-each-other",
    ],
)
def test_a_forbidden_import_breaks_a_contract(
    tmp_path: Path, module: str, line: str, contract: str, broken: str
) -> None:
    result = lint_imports(copy_with_import(tmp_path, module, line))
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{contract} BROKEN" in result.stdout and broken in result.stdout, result.stdout


def test_the_readme_draws_every_layer_the_contract_holds() -> None:
    """The README's layers diagram names each package or module of the layers contract."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (layers,) = [
        c["layers"] for c in config["tool"]["importlinter"]["contracts"] if c["id"] == "layers"
    ]
    readme = (ROOT / "README.md").read_text()
    drawing = readme[readme.index("**Layers.**") : readme.index("**Architecture in a paragraph")]
    for layer in layers:
        for module in layer.split(" | "):
            name = module.removeprefix("webapp.")
            package = (ROOT / "webapp" / name).is_dir()
            assert (f"{name}/" if package else f"{name}.py") in drawing, module
