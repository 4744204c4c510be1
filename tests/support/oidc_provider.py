"""A real OpenID Connect provider for the tests: panva's certified ``oidc-provider`` (npm),
run by ``tests/support/oidc/provider.js`` on a free port.

Its packages are installed with ``npm ci`` (from the committed ``package-lock.json``) into a
cache directory named after the lock file's hash, once per machine; a clean clone needs only
Node and npm. Without npm the tests that need the provider are skipped, saying why.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support.waiting import free_port, port_open, wait_until

SOURCE = Path(__file__).resolve().parent / "oidc"
CLIENT_ID = "parley-tests"
CLIENT_SECRET = "parley-tests-client-secret-0123456789"
#: Login names the provider's development login page accepts (see provider.js).
USER_WITH_NAME = ("ada", "Ada Lovelace")
USER_WITH_USERNAME_ONLY = "grace"
#: A provider user whose ``sub`` is a Parley password account's username.
USER_NAMED_LIKE_A_PASSWORD_ACCOUNT = "alice"


class NoNode(Exception):
    """npm or node is not installed: the provider cannot run here."""


def _cache_dir() -> Path:
    lock = (SOURCE / "package-lock.json").read_bytes()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "parley-tests" / f"oidc-provider-{hashlib.sha256(lock).hexdigest()[:16]}"


def installed_provider() -> Path:
    """The directory to run the provider from, with its ``node_modules`` installed."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        raise NoNode("npm and node are needed to run the test OpenID Connect provider")
    target = _cache_dir()
    if not (target / "node_modules" / "oidc-provider").is_dir():
        target.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(SOURCE / name, target / name)
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=target,
            check=True,
            timeout=600,
            capture_output=True,
        )
    shutil.copyfile(SOURCE / "provider.js", target / "provider.js")
    return target


@dataclass
class OidcProvider:
    issuer: str
    process: subprocess.Popen[bytes]

    def parley_env(self) -> dict[str, str]:
        """What a Parley that offers "Sign in with Test ID" needs."""
        return {
            "PARLEY_OIDC_ISSUER": self.issuer,
            "PARLEY_OIDC_CLIENT_ID": CLIENT_ID,
            "PARLEY_OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "PARLEY_OIDC_NAME": "Test ID",
        }

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


def start_provider(redirect_uris: list[str], log_path: Path) -> OidcProvider:
    """The provider on a free port of ``localhost`` (another site than Parley's
    ``127.0.0.1``), trusting ``redirect_uris`` for Parley's callback."""
    directory = installed_provider()
    port = free_port()
    issuer = f"http://localhost:{port}"
    env = {
        **os.environ,
        "OIDC_ISSUER": issuer,
        "OIDC_PORT": str(port),
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_REDIRECT_URIS": ",".join(redirect_uris),
    }
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            ["node", "provider.js"], cwd=directory, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    provider = OidcProvider(issuer, process)

    def listening() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"oidc-provider exited:\n{log_path.read_text(errors='replace')}")
        return port_open(port)

    wait_until(listening, 30, "oidc-provider to listen")
    return provider
