"""A scratch PostgreSQL database on the machine's server (127.0.0.1:5432, trust auth)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

HOST, PORT = "127.0.0.1", 5432
USERS = ("postgres", "root")


def _admin() -> tuple[psycopg.Connection, str]:
    errors = []
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
            errors.append(f"{user}: {exc}")
            continue
        return conn, user
    pytest.skip(f"no PostgreSQL on {HOST}:{PORT} ({'; '.join(errors)})")


@contextmanager
def scratch_database() -> Iterator[str]:
    """Create a uniquely named database, yield its URL, drop it (even if still in use)."""
    admin, user = _admin()
    name = f"parley_test_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql://{user}@{HOST}:{PORT}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
