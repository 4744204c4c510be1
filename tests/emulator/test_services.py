"""Conversations services: create (`POST /v1/Services`), list, fetch, delete, each a separate
space of conversations and users; driven through the official `twilio` library, every response
checked against Twilio's OpenAPI spec."""

from __future__ import annotations

import json
from pathlib import Path

from tests.emulator.conftest import (
    EMULATOR_SERVICE_SID,
    ContractChecker,
    RunningEmulator,
    start_emulator,
)
from tests.emulator.test_contract import sid_of, twilio_error
from tests.emulator.test_persistence import restart, stop
from twilio_emulator import EmulatorSettings


def test_a_created_service_is_listed_fetched_and_starts_without_webhooks(
    emulator: RunningEmulator,
) -> None:
    v1 = emulator.client.conversations.v1
    created = v1.services.create(friendly_name="Parley")
    assert sid_of("IS", created.sid) and created.sid != EMULATOR_SERVICE_SID
    assert created.friendly_name == "Parley"
    assert created.url.endswith(f"/v1/Services/{created.sid}")
    assert [s.sid for s in v1.services.list()] == [EMULATOR_SERVICE_SID, created.sid]
    assert [s.sid for s in v1.services.list(page_size=1)] == [EMULATOR_SERVICE_SID, created.sid]
    assert v1.services(created.sid).fetch().friendly_name == "Parley"
    hooks = v1.services(created.sid).configuration.webhooks().fetch()
    assert (hooks.post_webhook_url, hooks.pre_webhook_url, hooks.filters) == (None, None, [])


def test_each_service_has_its_own_conversations_and_users(emulator: RunningEmulator) -> None:
    v1 = emulator.client.conversations.v1
    other_sid = v1.services.create(friendly_name="Other").sid
    other = v1.services(other_sid)
    default = v1.services(EMULATOR_SERVICE_SID)
    mine = other.conversations.create(unique_name="support")
    theirs = default.conversations.create(unique_name="support")  # unique per service
    assert mine.chat_service_sid != theirs.chat_service_sid
    assert [c.sid for c in other.conversations.list()] == [mine.sid]
    assert twilio_error(default.conversations(mine.sid).fetch).status == 404
    other.conversations(mine.sid).participants.create(identity="alice")
    default.conversations(theirs.sid).participants.create(identity="alice")
    assert other.users("alice").fetch().sid != default.users("alice").fetch().sid
    assert other.users.create(identity="bob").chat_service_sid == other_sid
    assert default.users.create(identity="bob").chat_service_sid == EMULATOR_SERVICE_SID


def test_deleting_a_service_deletes_what_it_holds_but_not_the_default(
    emulator: RunningEmulator,
) -> None:
    v1 = emulator.client.conversations.v1
    created = v1.services.create(friendly_name="Short-lived")
    conv = v1.services(created.sid).conversations.create()
    assert v1.services(created.sid).delete() is True
    assert twilio_error(v1.services(created.sid).fetch).code == 20404
    assert twilio_error(v1.services(created.sid).conversations(conv.sid).fetch).code == 20404
    assert [s.sid for s in v1.services.list()] == [EMULATOR_SERVICE_SID]
    refused = twilio_error(v1.services(EMULATOR_SERVICE_SID).delete)
    assert (refused.status, refused.code) == (400, 20001)


def test_invalid_services_get_twilio_errors(emulator: RunningEmulator) -> None:
    v1 = emulator.client.conversations.v1
    too_long = twilio_error(v1.services.create, friendly_name="x" * 257)
    assert (too_long.status, too_long.code) == (400, 50003)
    # The library insists on friendly_name; a bare request shows the emulator requires it too.
    missing = emulator.client.request("POST", "https://conversations.twilio.com/v1/Services")
    assert (missing.status_code, json.loads(missing.text)["code"]) == (400, 20001)


def test_created_services_survive_a_restart(tmp_path: Path) -> None:
    settings = EmulatorSettings(persist_path=str(tmp_path / "emulator.sqlite3"))
    running = start_emulator(settings)
    created = running.client.conversations.v1.services.create(friendly_name="Kept")
    conv = running.client.conversations.v1.services(created.sid).conversations.create()
    running = restart(running, settings)
    try:
        v1 = running.client.conversations.v1
        assert v1.services(created.sid).fetch().friendly_name == "Kept"
        assert v1.services(created.sid).conversations(conv.sid).fetch().sid == conv.sid
        assert v1.services.create(friendly_name="Next").sid != created.sid
    finally:
        stop(running)


def test_service_operations_are_covered_and_valid(
    emulator: RunningEmulator, contract: ContractChecker
) -> None:
    v1 = emulator.client.conversations.v1
    created = v1.services.create(friendly_name="Covered")
    v1.services.list()
    v1.services(created.sid).fetch()
    v1.services(created.sid).delete()
    contract.checked.clear()
    for exchange in emulator.http.exchanges:
        contract.check(exchange)
    assert contract.checked >= {"CreateService", "ListService", "FetchService", "DeleteService"}
