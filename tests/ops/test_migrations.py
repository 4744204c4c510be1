"""The schema comes from Alembic migrations (Flask-Migrate), on SQLite and on PostgreSQL;
`init-db` runs the same migrations; the models and the migrations agree."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.support.servers import flask_cli, parley_env
from tests.support.waiting import free_port


def env_for(tmp_path: Path, database_url: str) -> dict[str, str]:
    return parley_env(tmp_path, free_port(), DATABASE_URL=database_url)


def tables(database_url: str) -> set[str]:
    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'parley.sqlite3'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


def test_upgrade_creates_the_users_table_and_records_the_revision(
    tmp_path: Path, database_url: str
) -> None:
    env = env_for(tmp_path, database_url)
    flask_cli(env, "db", "upgrade")
    assert tables(database_url) == {
        "users",
        "media_uploads",
        "push_subscriptions",
        "conversation_mutes",
        "alembic_version",
    }
    assert "0006_conversation_mutes (head)" in flask_cli(env, "db", "current")
    # The models need no migration that is not written yet.
    flask_cli(env, "db", "check")
    flask_cli(env, "users", "demo")


def test_downgrade_and_upgrade_round_trip(tmp_path: Path, database_url: str) -> None:
    env = env_for(tmp_path, database_url)
    flask_cli(env, "db", "upgrade")
    flask_cli(env, "db", "downgrade", "base")
    assert tables(database_url) == {"alembic_version"}
    flask_cli(env, "db", "upgrade")
    assert "users" in tables(database_url)


def test_init_db_runs_the_migrations_and_can_run_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'parley.sqlite3'}"
    env = env_for(tmp_path, url)
    assert "Database ready." in flask_cli(env, "init-db")
    assert "Database ready." in flask_cli(env, "init-db")
    assert "0006_conversation_mutes (head)" in flask_cli(env, "db", "current")


def test_a_database_made_before_migrations_is_adopted(tmp_path: Path) -> None:
    """Parley v0 made its table with `create_all`; upgrading keeps it and its users."""
    url = f"sqlite:///{tmp_path / 'parley.sqlite3'}"
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "CREATE TABLE users (id INTEGER PRIMARY KEY, username VARCHAR(32) NOT NULL, "
                "password_hash VARCHAR(256) NOT NULL, created_at DATETIME NOT NULL)"
            )
        )
        connection.execute(
            sa.text("INSERT INTO users VALUES (1, 'dora', 'x', '2026-01-01 00:00:00')")
        )
    engine.dispose()
    env = env_for(tmp_path, url)

    flask_cli(env, "db", "upgrade")

    assert "0006_conversation_mutes (head)" in flask_cli(env, "db", "current")
    with sa.create_engine(url).connect() as connection:
        assert connection.execute(sa.text("SELECT username FROM users")).scalars().all() == ["dora"]


def test_identities_migrate_from_usernames_and_free_identities_fit(
    tmp_path: Path, database_url: str
) -> None:
    """0003 gives each existing user their username as identity; afterwards a host site's user
    has an identity of up to 256 characters, a display name and no username; the identity is
    unique. On SQLite and on PostgreSQL."""
    env = env_for(tmp_path, database_url)
    flask_cli(env, "db", "upgrade", "0002_session_version")
    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO users (username, password_hash, created_at) "
                    "VALUES ('dora', 'x', '2026-01-01 00:00:00')"
                )
            )
        flask_cli(env, "db", "upgrade")
        long_identity = "user|" + "9" * 251
        with engine.begin() as connection:
            rows = connection.execute(sa.text("SELECT username, identity FROM users")).all()
            assert [tuple(row) for row in rows] == [("dora", "dora")]
            connection.execute(
                sa.text(
                    "INSERT INTO users (identity, display_name, password_hash, created_at) "
                    "VALUES (:identity, 'Ada', '', '2026-01-01 00:00:00')"
                ),
                {"identity": long_identity},
            )
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO users (identity, password_hash, created_at) "
                    "VALUES ('dora', '', '2026-01-01 00:00:00')"
                )
            )
    finally:
        engine.dispose()
    flask_cli(env, "db", "downgrade", "0002_session_version")  # the host's users go with it
