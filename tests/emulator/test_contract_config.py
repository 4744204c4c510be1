"""Configuration, webhook resources, users update/delete and DateCreated, driven through the
official `twilio` library; the `emulator` fixture checks every response against Twilio's
OpenAPI spec on teardown, and the last test checks each operation here was exercised."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.emulator.conftest import EMULATOR_SERVICE_SID, ContractChecker, RunningEmulator
from tests.emulator.test_contract import sid_of, twilio_error

HOOK = "https://example.com/hook"


def test_conversation_scoped_webhook_lifecycle(api: Any) -> None:
    conv = api.conversations.create()
    webhooks = api.conversations(conv.sid).webhooks
    hook = webhooks.create(
        target="webhook",
        configuration_url=HOOK,
        configuration_method="post",
        configuration_filters=["onMessageAdded", "onParticipantAdded"],
    )
    assert sid_of("WH", hook.sid) and hook.conversation_sid == conv.sid
    assert hook.target == "webhook"
    assert hook.configuration == {
        "url": HOOK,
        "method": "post",
        "filters": ["onMessageAdded", "onParticipantAdded"],
    }
    assert hook.url.endswith(f"/Conversations/{conv.sid}/Webhooks/{hook.sid}")
    assert webhooks(hook.sid).fetch().configuration["url"] == HOOK
    updated = webhooks(hook.sid).update(
        configuration_method="get", configuration_filters=["onMessageRemoved"]
    )
    assert updated.configuration == {"url": HOOK, "method": "get", "filters": ["onMessageRemoved"]}
    studio = webhooks.create(target="studio", configuration_flow_sid="FW" + "a" * 32)
    assert studio.configuration == {"flow_sid": "FW" + "a" * 32}
    trigger = webhooks.create(
        target="trigger", configuration_url=HOOK, configuration_triggers=["help", "stop"]
    )
    assert trigger.configuration["filters"] == ["help", "stop"]
    assert [h.sid for h in webhooks.list()] == [hook.sid, studio.sid, trigger.sid]
    assert [h.sid for h in webhooks.list(page_size=2)] == [hook.sid, studio.sid, trigger.sid]
    assert webhooks(hook.sid).delete() is True
    assert twilio_error(webhooks(hook.sid).fetch).code == 50360


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"target": "pigeon"}, 400, 50364),
        ({"target": "webhook", "configuration_filters": ["onMessageAdded"]}, 400, 50369),
        ({"target": "webhook", "configuration_url": HOOK}, 400, 50370),
        (
            {"target": "webhook", "configuration_url": HOOK, "configuration_filters": ["onX"]},
            400,
            50365,
        ),
        (
            {
                "target": "webhook",
                "configuration_url": HOOK + "/" + "x" * 512,
                "configuration_filters": ["onMessageAdded"],
            },
            400,
            50372,
        ),
        ({"target": "trigger", "configuration_url": HOOK}, 400, 50371),
        (
            {
                "target": "trigger",
                "configuration_url": HOOK,
                "configuration_triggers": ["a", "b", "c", "d", "e", "f"],
            },
            400,
            50362,
        ),
    ],
)
def test_invalid_conversation_webhooks_get_twilio_errors(
    api: Any, kwargs: dict[str, Any], status: int, code: int
) -> None:
    conv = api.conversations.create()
    error = twilio_error(api.conversations(conv.sid).webhooks.create, **kwargs)
    assert (error.status, error.code) == (status, code), error.msg


def test_a_conversation_holds_at_most_five_webhooks(api: Any) -> None:
    conv = api.conversations.create()
    webhooks = api.conversations(conv.sid).webhooks
    for _ in range(5):
        webhooks.create(
            target="webhook", configuration_url=HOOK, configuration_filters=["onMessageAdded"]
        )
    error = twilio_error(
        webhooks.create,
        target="webhook",
        configuration_url=HOOK,
        configuration_filters=["onMessageAdded"],
    )
    assert (error.status, error.code) == (400, 50361)
    assert twilio_error(webhooks("nope").fetch).code == 50363
    assert twilio_error(api.conversations("CH" + "0" * 32).webhooks.list).code == 20404


def test_deleting_a_conversation_removes_its_webhooks(emulator: RunningEmulator) -> None:
    v1 = emulator.client.conversations.v1
    conv = v1.conversations.create(unique_name="short-lived")
    v1.conversations(conv.sid).webhooks.create(
        target="webhook", configuration_url=HOOK, configuration_filters=["onMessageAdded"]
    )
    v1.conversations(conv.sid).delete()
    again = v1.conversations.create(unique_name="short-lived")
    assert v1.conversations(again.sid).webhooks.list() == []


def test_account_configuration_and_global_webhooks(emulator: RunningEmulator) -> None:
    v1 = emulator.client.conversations.v1
    config = v1.configuration().fetch()
    assert config.default_chat_service_sid == EMULATOR_SERVICE_SID
    assert config.default_inactive_timer is None
    assert config.links["webhooks"].endswith("/v1/Configuration/Webhooks")
    updated = v1.configuration().update(
        default_inactive_timer="PT1M",
        default_closed_timer="PT10M",
        default_messaging_service_sid="MG" + "b" * 32,
    )
    assert (updated.default_inactive_timer, updated.default_closed_timer) == ("PT1M", "PT10M")
    assert updated.default_messaging_service_sid == "MG" + "b" * 32
    unknown = twilio_error(v1.configuration().update, default_chat_service_sid="IS" + "1" * 32)
    assert unknown.status == 404

    hooks = v1.configuration.webhooks().fetch()
    assert (hooks.target, hooks.method, hooks.filters) == ("webhook", "POST", [])
    assert hooks.pre_webhook_url is None and hooks.post_webhook_url is None
    changed = v1.configuration.webhooks().update(
        pre_webhook_url=HOOK + "/pre",
        post_webhook_url=HOOK + "/post",
        filters=["onMessageAdd", "onMessageAdded"],
        method="GET",
    )
    assert (changed.pre_webhook_url, changed.post_webhook_url) == (HOOK + "/pre", HOOK + "/post")
    assert changed.filters == ["onMessageAdd", "onMessageAdded"] and changed.method == "GET"
    assert twilio_error(v1.configuration.webhooks().update, method="PUT").code == 20001


def test_service_configuration(emulator: RunningEmulator) -> None:
    service = emulator.client.conversations.v1.services(EMULATOR_SERVICE_SID)
    config = service.configuration().fetch()
    assert config.chat_service_sid == EMULATOR_SERVICE_SID
    assert config.reachability_enabled is False and config.default_conversation_role_sid is None
    role = "RL" + "c" * 32
    updated = service.configuration().update(
        default_conversation_role_sid=role, reachability_enabled=True
    )
    assert updated.default_conversation_role_sid == role and updated.reachability_enabled is True
    error = twilio_error(service.configuration().update, default_chat_service_role_sid="x")
    assert error.code == 20001


def test_users_update_and_delete(api: Any) -> None:
    user = api.users.create(identity="dana", friendly_name="Dana")
    role = "RL" + "d" * 32
    updated = api.users("dana").update(
        friendly_name="Dana S.", attributes='{"tz": "UTC"}', role_sid=role
    )
    assert (updated.friendly_name, updated.attributes, updated.role_sid) == (
        "Dana S.",
        '{"tz": "UTC"}',
        role,
    )
    assert api.users(user.sid).fetch().friendly_name == "Dana S."
    assert twilio_error(api.users(user.sid).update, attributes="{oops").code == 50304
    assert api.users(user.sid).delete() is True
    assert twilio_error(api.users(user.sid).fetch).code == 20404
    assert twilio_error(api.users("dana").delete).code == 20404


def test_message_date_created_can_be_set_for_imported_history(api: Any) -> None:
    conv = api.conversations.create()
    when = datetime(2021, 3, 4, 5, 6, 7, tzinfo=UTC)
    old = api.conversations(conv.sid).messages.create(body="from 2021", date_created=when)
    assert old.date_created == when and old.date_updated == when and old.index == 0
    new = api.conversations(conv.sid).messages.create(body="now")
    assert new.index == 1 and new.date_created > when


CONFIG_OPERATIONS = (
    {
        f"{verb}{scope}ConversationScopedWebhook"
        for scope in ("", "Service")
        for verb in ("Create", "Fetch", "List", "Update", "Delete")
    }
    | {f"{verb}{scope}User" for scope in ("", "Service") for verb in ("Update", "Delete")}
    | {
        "FetchConfiguration",
        "UpdateConfiguration",
        "FetchConfigurationWebhook",
        "UpdateConfigurationWebhook",
        "FetchServiceConfiguration",
        "UpdateServiceConfiguration",
    }
)


def test_every_configuration_operation_is_covered_and_valid(
    emulator: RunningEmulator, contract: ContractChecker
) -> None:
    """One pass over every operation added after v0, each response checked here."""
    v1 = emulator.client.conversations.v1
    v1.configuration().fetch()
    v1.configuration().update(default_closed_timer="PT1H")
    v1.configuration.webhooks().fetch()
    v1.configuration.webhooks().update(method="POST")
    v1.services(EMULATOR_SERVICE_SID).configuration().fetch()
    v1.services(EMULATOR_SERVICE_SID).configuration().update(reachability_enabled=False)
    for api in (v1, v1.services(EMULATOR_SERVICE_SID)):
        conv = api.conversations.create()
        hook = api.conversations(conv.sid).webhooks.create(
            target="webhook", configuration_url=HOOK, configuration_filters=["onMessageAdded"]
        )
        api.conversations(conv.sid).webhooks(hook.sid).fetch()
        api.conversations(conv.sid).webhooks.list()
        api.conversations(conv.sid).webhooks(hook.sid).update(configuration_method="get")
        api.conversations(conv.sid).webhooks(hook.sid).delete()
        user = api.users.create(identity=f"user-{conv.sid}")
        api.users(user.sid).update(friendly_name="U")
        api.users(user.sid).delete()
    contract.checked.clear()
    for exchange in emulator.http.exchanges:
        contract.check(exchange)
    assert contract.checked >= CONFIG_OPERATIONS, CONFIG_OPERATIONS - contract.checked
