"""`EmulatorSettings(persist_path=...)`: the store survives a restart in a SQLite file."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.emulator.conftest import (
    EMULATOR_ACCOUNT_SID,
    EMULATOR_AUTH_TOKEN,
    EMULATOR_SERVICE_SID,
    RunningEmulator,
    start_emulator,
)
from tests.emulator.test_contract import twilio_error
from twilio_emulator import EmulatorSettings, create_emulator_app

PHONE, TWILIO_NUMBER = "+15551234567", "+15005550006"


def restart(running: RunningEmulator | None, settings: EmulatorSettings) -> RunningEmulator:
    if running is not None:
        running.state.close()
        running.served.stop()
    return start_emulator(settings)


def stop(running: RunningEmulator) -> None:
    running.state.close()
    running.served.stop()


def seed(api: Any) -> dict[str, Any]:
    """A little history: chat and SMS participants, messages with a deleted one, a read
    horizon, a scoped webhook, a user, an SMS in the outbox."""
    conv = api.conversations.create(unique_name="support", friendly_name="Support")
    parts = api.conversations(conv.sid).participants
    alice = parts.create(identity="alice")
    parts.create(messaging_binding_address=PHONE, messaging_binding_proxy_address=TWILIO_NUMBER)
    messages = api.conversations(conv.sid).messages
    sent = [messages.create(author="alice", body=f"m{i}") for i in range(4)]
    messages(sent[2].sid).delete()
    parts(alice.sid).update(last_read_message_index=0)
    hook = api.conversations(conv.sid).webhooks.create(
        target="webhook",
        configuration_url="https://example.com/h",
        configuration_filters=["onMessageAdded"],
    )
    api.users.create(identity="bob", friendly_name="Bob")
    return {"conv": conv, "alice": alice, "hook": hook}


def test_a_restart_keeps_conversations_participants_messages_and_indexes(tmp_path: Path) -> None:
    settings = EmulatorSettings(persist_path=str(tmp_path / "emulator.sqlite3"))
    running = start_emulator(settings)
    seeded = seed(running.client.conversations.v1.services(EMULATOR_SERVICE_SID))
    running = restart(running, settings)
    try:
        api = running.client.conversations.v1.services(EMULATOR_SERVICE_SID)
        conv = api.conversations("support").fetch()
        assert (conv.sid, conv.friendly_name) == (seeded["conv"].sid, "Support")
        assert conv.date_created == seeded["conv"].date_created
        assert [p.identity for p in api.conversations(conv.sid).participants.list()] == [
            "alice",
            None,
        ]
        messages = api.conversations(conv.sid).messages
        assert [(m.index, m.body) for m in messages.list()] == [(0, "m0"), (1, "m1"), (3, "m3")]
        assert messages.create(body="after restart").index == 4  # indices never reused
        (row,) = api.users("alice").user_conversations.list()
        assert (row.last_read_message_index, row.unread_messages_count) == (0, 3)
        assert api.users("bob").fetch().friendly_name == "Bob"
        assert [h.sid for h in api.conversations(conv.sid).webhooks.list()] == [seeded["hook"].sid]
        other = api.conversations.create()
        error = twilio_error(
            api.conversations(other.sid).participants.create,
            messaging_binding_address=PHONE,
            messaging_binding_proxy_address=TWILIO_NUMBER,
        )
        assert error.code == 50416  # the SMS pair index was rebuilt
        outbox = requests.get(
            f"{running.url}/_dev/outbox",
            auth=(EMULATOR_ACCOUNT_SID, EMULATOR_AUTH_TOKEN),
            timeout=10,
        ).json()["messages"]
        assert [m["body"] for m in outbox] == ["m0", "m1", "m2", "m3", "after restart"]
    finally:
        stop(running)


def test_configuration_survives_but_the_configured_post_url_wins(tmp_path: Path) -> None:
    path = str(tmp_path / "emulator.sqlite3")
    running = start_emulator(EmulatorSettings(persist_path=path, post_webhook_url="http://a/hook"))
    service = running.client.conversations.v1.services(EMULATOR_SERVICE_SID)
    service.configuration.webhooks().update(
        post_webhook_url="http://changed/hook", filters=["onMessageAdded"], method="GET"
    )
    running.client.conversations.v1.configuration().update(default_closed_timer="PT1H")
    running = restart(running, EmulatorSettings(persist_path=path))
    config = running.state.store.get_webhooks(EMULATOR_SERVICE_SID)
    assert (config.post_webhook_url, config.filters, config.method) == (
        "http://changed/hook",
        ("onMessageAdded",),
        "GET",
    )
    assert running.state.store.get_account_config().default_closed_timer == "PT1H"
    running = restart(running, EmulatorSettings(persist_path=path, post_webhook_url="http://b/h"))
    try:
        config = running.state.store.get_webhooks(EMULATOR_SERVICE_SID)
        assert (config.post_webhook_url, config.filters) == ("http://b/h", ("onMessageAdded",))
    finally:
        stop(running)


def test_each_change_is_saved_in_one_sqlite_row(tmp_path: Path) -> None:
    path = tmp_path / "emulator.sqlite3"
    running = start_emulator(EmulatorSettings(persist_path=str(path)))
    try:
        running.client.conversations.v1.conversations.create(unique_name="saved-at-once")
        with sqlite3.connect(path) as db:
            (state,) = db.execute("SELECT state FROM emulator_state").fetchone()
        assert "saved-at-once" in state
    finally:
        stop(running)


def test_a_file_from_another_service_is_refused(tmp_path: Path) -> None:
    path = str(tmp_path / "emulator.sqlite3")
    first = create_emulator_app(EmulatorSettings(persist_path=path)).extensions["twilio_emulator"]
    first.store.create_conversation(
        EMULATOR_SERVICE_SID,
        friendly_name=None,
        unique_name=None,
        attributes=None,
        state=None,
        source=None,
    )
    first.close()
    other = EmulatorSettings(persist_path=path, service_sid="IS" + "1" * 32)
    with pytest.raises(ValueError, match="belongs to service"):
        create_emulator_app(other)


def test_a_missing_directory_is_reported_clearly(tmp_path: Path) -> None:
    settings = EmulatorSettings(persist_path=str(tmp_path / "nowhere" / "e.sqlite3"))
    with pytest.raises(FileNotFoundError, match="nowhere"):
        create_emulator_app(settings)
