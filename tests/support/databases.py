"""Which database Parley's test servers use: SQLite files, or scratch PostgreSQL databases.

The backend is chosen once per pytest run (``--database=sqlite|postgresql``, default from
``PARLEY_TEST_DATABASE``, else SQLite) and read by :func:`parley_database`, which every
``run_parley`` uses. On PostgreSQL (the machine's server on 127.0.0.1:5432, trust auth) each
Parley gets a database of its own, named after this run's process id, dropped when that Parley
stops, even after a failure; databases left by a run that was killed outright (its process is
gone) are dropped when the next run starts.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

HOST, PORT = "127.0.0.1", 5432
USERS = ("postgres", "root")
BACKENDS = ("sqlite", "postgresql")
PREFIX = "parley_test_"
#: ``parley_test_<pid>_<random>``: the pid says whether the run that made it is still alive.
_NAME = re.compile(rf"^{PREFIX}(\d+)_[0-9a-f]+$")

#: Set by ``tests/conftest.py`` from the command line before any test runs.
backend = os.environ.get("PARLEY_TEST_DATABASE", "sqlite")


class NoPostgres(RuntimeError):
    """The machine's PostgreSQL could not be reached with any of :data:`USERS`."""


def admin_connection() -> tuple[psycopg.Connection, str]:
    """An autocommit connection to the ``postgres`` database, and the user it logged in as."""
    problems = []
    for user in USERS:
        try:
            conn = psycopg.connect(
                host=HOST,
                port=PORT,
                user=user,
                dbname="postgres",
                autocommit=True,
                connect_timeout=5,
            )
        except psycopg.Error as exc:
            problems.append(f"{user}: {exc}")
            continue
        return conn, user
    raise NoPostgres(f"no PostgreSQL on {HOST}:{PORT} ({'; '.join(problems)})")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def drop_abandoned() -> list[str]:
    """Drop scratch databases whose test run no longer exists (killed before its clean-up)."""
    admin, _ = admin_connection()
    dropped = []
    with admin:
        rows = admin.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", (PREFIX + "%",)
        ).fetchall()
        for (name,) in rows:
            match = _NAME.match(name)
            if match and not _alive(int(match.group(1))):
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                dropped.append(name)
    return dropped


@contextmanager
def scratch_database() -> Iterator[str]:
    """Create a uniquely named database, yield its URL, drop it (even if still in use)."""
    admin, user = admin_connection()
    name = f"{PREFIX}{os.getpid()}_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql://{user}@{HOST}:{PORT}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_exists(url: str) -> bool:
    name = url.rsplit("/", 1)[-1]
    admin, _ = admin_connection()
    with admin:
        row = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    return row is not None


@contextmanager
def parley_database(tmp: Path) -> Iterator[str]:
    """The ``DATABASE_URL`` for one Parley: a SQLite file in ``tmp``, or a scratch PostgreSQL
    database for as long as the ``with`` block lasts."""
    if backend == "postgresql":
        with scratch_database() as url:
            yield url
    else:
        yield f"sqlite:///{tmp / 'parley.sqlite3'}"
