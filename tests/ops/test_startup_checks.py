"""A set-up that cannot work stops gunicorn before any worker starts, with one line that names
the problem and the fix (what a platform's log shows after a failed deploy)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.servers import BIN, ROOT, parley_env
from tests.support.waiting import free_port

LIVE = {
    "TWILIO_ACCOUNT_SID": "AC" + "a" * 32,
    "TWILIO_AUTH_TOKEN": "b" * 32,
    "TWILIO_API_KEY_SID": "SK" + "c" * 32,
    "TWILIO_API_KEY_SECRET": "d" * 32,
    "TWILIO_CONVERSATIONS_SERVICE_SID": "IS" + "e" * 32,
}


def start(tmp_path: Path, command: list[str], **overrides: str | None) -> tuple[int, str]:
    env = parley_env(tmp_path, free_port())
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    result = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    return result.returncode, result.stdout + result.stderr


def gunicorn(tmp_path: Path, **overrides: str | None) -> tuple[int, str]:
    return start(
        tmp_path, [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"], **overrides
    )


CASES = {
    "live mode, a variable missing": (
        {**LIVE, "TWILIO_API_KEY_SECRET": None},
        ["TWILIO_API_KEY_SECRET is required", "Twilio console"],
    ),
    "live mode, a malformed SID": (
        {**LIVE, "TWILIO_ACCOUNT_SID": "AC123"},
        ["TWILIO_ACCOUNT_SID does not look right", "copy it again"],
    ),
    "live mode, no Conversations service yet": (
        {**LIVE, "TWILIO_CONVERSATIONS_SERVICE_SID": None},
        ["TWILIO_CONVERSATIONS_SERVICE_SID is not set", "twilio setup"],
    ),
    "two workers without Redis": (
        {"WEB_CONCURRENCY": "2", "TWILIO_EMULATOR_URL": "http://127.0.0.1:4010"},
        ["WEB_CONCURRENCY=2 needs REDIS_URL", "set REDIS_URL, or WEB_CONCURRENCY=1"],
    ),
    "two workers sharing an in-process emulator": (
        {"WEB_CONCURRENCY": "2", "REDIS_URL": "redis://127.0.0.1:1/0"},
        ["needs a standalone emulator", "TWILIO_EMULATOR_URL"],
    ),
    "production on a SQLite file": (
        {"PARLEY_ENV": "production", "SECRET_KEY": "s" * 40, "DATABASE_URL": None},
        ["PARLEY_ENV=production needs DATABASE_URL", "heroku-postgresql"],
    ),
    "production without SECRET_KEY": (
        {"PARLEY_ENV": "production", "SECRET_KEY": None},
        ["SECRET_KEY is required in production", "secrets.token_hex"],
    ),
    "sign-in from a host site only, without its key": (
        {"PARLEY_SSO_ONLY": "1"},
        ["PARLEY_SSO_ONLY=1", "PARLEY_SSO_SECRET or PARLEY_SSO_PUBLIC_KEY"],
    ),
    "both a host secret and a host public key": (
        {
            "PARLEY_SSO_SECRET": "s" * 32,
            "PARLEY_SSO_PUBLIC_KEY": "-----BEGIN PUBLIC KEY-----",
            "PARLEY_SSO_ISSUER": "https://host.example",
        },
        ["PARLEY_SSO_SECRET", "PARLEY_SSO_PUBLIC_KEY", "not both"],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_gunicorn_refuses_to_start_with_one_line_naming_problem_and_fix(
    tmp_path: Path, case: str
) -> None:
    overrides, expected = CASES[case]

    code, output = gunicorn(tmp_path, **overrides)

    assert code != 0, output
    assert "Traceback" not in output
    problem_lines = [line for line in output.splitlines() if line.startswith("Parley cannot")]
    assert len(problem_lines) == 1, output
    for words in expected:
        assert words in problem_lines[0]


def test_the_release_command_fails_on_a_bad_configuration_naming_it(tmp_path: Path) -> None:
    code, output = start(
        tmp_path,
        [str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"],
        PARLEY_ENV="production",
        SECRET_KEY=None,
    )
    assert code != 0
    assert "SECRET_KEY is required in production" in output.strip().splitlines()[-1]


def test_setup_commands_run_in_live_mode_before_a_service_is_chosen(tmp_path: Path) -> None:
    """`twilio setup` has to run before TWILIO_CONVERSATIONS_SERVICE_SID exists, and so must
    the release step: only serving needs it."""
    code, output = start(
        tmp_path,
        [str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"],
        **{**LIVE, "TWILIO_CONVERSATIONS_SERVICE_SID": None},
    )
    assert code == 0, output
