"""A scratch PostgreSQL database for the operations tests, skipped where there is no server.

The real work is in :mod:`tests.support.databases`, shared with the PostgreSQL run of the
suite (``--database=postgresql``), where a missing server fails instead of skipping.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.support import databases


@contextmanager
def scratch_database() -> Iterator[str]:
    """Create a uniquely named database, yield its URL, drop it (even if still in use)."""
    try:
        databases.admin_connection()[0].close()
    except databases.NoPostgres as exc:
        pytest.skip(str(exc))
    with databases.scratch_database() as url:
        yield url
