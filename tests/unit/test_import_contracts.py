"""The import contracts in pyproject.toml hold, and a forbidden import breaks them.

`make lint` runs `lint-imports`; these tests show the contracts catch what they are for, on a
copy of the packages with one forbidden import added.
"""

from __future__ import annotations

import shutil
import subprocess
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
    ("module", "line", "broken"),
    [
        (
            "twilio_emulator.sids",
            "import webapp.config",
            "twilio_emulator.sids -> webapp.config",
        ),
        (
            "webapp.cli",
            "from twilio_emulator.state import EmulatorState",
            "webapp.cli -> twilio_emulator.state",
        ),
    ],
    ids=["emulator-imports-parley", "parley-imports-emulator-internals"],
)
def test_a_forbidden_import_breaks_a_contract(
    tmp_path: Path, module: str, line: str, broken: str
) -> None:
    result = lint_imports(copy_with_import(tmp_path, module, line))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 broken" in result.stdout and broken in result.stdout
