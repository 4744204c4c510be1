"""`flask media clean`: uploads no message took (a removed preview, a closed tab) are deleted
from the Media Content Service after a day; sent files and recent uploads stay."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask

from tests.ops.conftest import RunningEmulator, parley_config
from webapp import create_app
from webapp.api.uploads import UNSENT_KEPT
from webapp.extensions import db
from webapp.models import MediaUpload
from webapp.services import get_services
from webapp.twilio_gateway import GatewayError

StartEmulator = Callable[..., RunningEmulator]
CH = "CH" + "1" * 32


def upload(app: Flask, name: str, age: timedelta) -> str:
    """A file uploaded through Parley's gateway ``age`` ago and never sent."""
    with app.app_context():
        media = get_services().media
        with open(__file__, "rb") as source:
            sid = media.upload(source, Path(__file__).stat().st_size, "text/plain", name).sid
        created = datetime.now(UTC) - age
        db.session.add(
            MediaUpload(sid=sid, conversation_sid=CH, identity="alice", created_at=created)
        )
        db.session.commit()
    return sid


def in_mcs(app: Flask, sid: str) -> bool:
    with app.app_context():
        try:
            get_services().media.fetch(sid)
        except GatewayError as exc:
            assert exc.not_found
            return False
    return True


def remembered(app: Flask) -> set[str]:
    with app.app_context():
        return set(db.session.execute(db.select(MediaUpload.sid)).scalars())


@pytest.fixture
def app(tmp_path: Path, start_emulator: StartEmulator) -> Flask:
    emulator = start_emulator()
    made = create_app(parley_config(tmp_path, TWILIO_EMULATOR_URL=emulator.url))
    with made.app_context():
        db.create_all()
    return made


def test_unsent_uploads_older_than_a_day_are_deleted_from_mcs(app: Flask) -> None:
    old = upload(app, "removed-preview.txt", UNSENT_KEPT + timedelta(minutes=5))
    fresh = upload(app, "being-written.txt", timedelta(minutes=5))
    gone = upload(app, "deleted-elsewhere.txt", UNSENT_KEPT * 2)
    with app.app_context():
        get_services().media.delete(gone)

    result = app.test_cli_runner().invoke(args=["media", "clean"])

    assert result.exit_code == 0, result.output
    assert "1 deleted, 1 already gone, 0 left" in result.output
    assert not in_mcs(app, old) and in_mcs(app, fresh)
    assert remembered(app) == {fresh}  # a message can still take the fresh one, not the old
    again = app.test_cli_runner().invoke(args=["media", "clean"])
    assert again.exit_code == 0 and "0 deleted, 0 already gone" in again.output


def test_uploads_mcs_cannot_be_reached_for_stay_for_the_next_run(
    tmp_path: Path, app: Flask
) -> None:
    old = upload(app, "old.txt", UNSENT_KEPT * 2)
    unreachable = create_app(
        parley_config(
            tmp_path,
            TWILIO_EMULATOR_URL="http://127.0.0.1:9",
            TWILIO_MCS_URL="http://127.0.0.1:9/mcs",
        )
    )

    result = unreachable.test_cli_runner().invoke(args=["media", "clean"])

    assert result.exit_code == 1, result.output
    assert "0 deleted, 0 already gone, 1 left for the next run" in result.output
    assert remembered(app) == {old} and in_mcs(app, old)
