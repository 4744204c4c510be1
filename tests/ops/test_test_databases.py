"""The PostgreSQL run of the suite: every Parley gets a scratch database that is always dropped."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.ops.postgres import scratch_database
from tests.support import databases


def test_sqlite_is_a_file_in_the_tests_tmp_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(databases, "backend", "sqlite")
    with databases.parley_database(tmp_path) as url:
        assert url == f"sqlite:///{tmp_path / 'parley.sqlite3'}"


def test_a_postgresql_database_is_unique_and_dropped_even_after_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with scratch_database():  # skips where the machine has no PostgreSQL
        pass
    monkeypatch.setattr(databases, "backend", "postgresql")
    seen: list[str] = []
    with pytest.raises(RuntimeError), databases.parley_database(tmp_path) as url:
        with databases.parley_database(tmp_path) as other:
            seen += [url, other]
            assert databases.database_exists(url) and databases.database_exists(other)
        raise RuntimeError("the test failed")
    assert len(set(seen)) == 2
    assert not any(databases.database_exists(url) for url in seen)


def test_databases_left_by_a_killed_run_are_dropped_but_not_a_live_runs() -> None:
    with scratch_database() as live:
        dead_pid = subprocess.Popen(["true"])
        dead_pid.wait()
        name = f"{databases.PREFIX}{dead_pid.pid}_0123456789ab"
        admin, _ = databases.admin_connection()
        with admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        dropped = databases.drop_abandoned()
        assert name in dropped
        assert live.rsplit("/", 1)[-1] not in dropped
        assert databases.database_exists(live)
        assert not databases.database_exists(f"postgresql:///{name}")
