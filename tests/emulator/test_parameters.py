"""Every form and query parameter Twilio's spec lists for an operation the emulator serves: a
malformed value gets Twilio's 400 (its code, its error JSON), never a 5xx nor an echo; over
real HTTP, with the raw form bodies any client could send."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.provisional import urls

from tests.emulator.conftest import (
    EMULATOR_ACCOUNT_SID,
    EMULATOR_AUTH_TOKEN,
    EMULATOR_SERVICE_SID,
    ContractChecker,
    RunningEmulator,
    WebhookReceiver,
    start_emulator,
)
from tests.emulator.test_contract import twilio_error
from twilio_emulator import EmulatorSettings
from twilio_emulator.params import operation_params, spec, template

AUTH = (EMULATOR_ACCOUNT_SID, EMULATOR_AUTH_TOKEN)
HOOKS = f"/v1/Services/{EMULATOR_SERVICE_SID}/Configuration/Webhooks"

#: A value no parameter of each kind accepts (the spec's types, formats, enums, patterns).
MALFORMED = {
    "integer": "twelve",
    "boolean": "maybe",
    "date-time": "yesterday",
    "uri": "not a url",
    "enum": "no-such-value",
    "pattern": "XX123",
}


#: Near misses: no host, another scheme, a space, a port that is not one.
NOT_URLS = ["http://", "ftp://example.com/", "https://exa mple.com/", "http://example.com:x/"]


@pytest.fixture(scope="module")
def served() -> Iterator[RunningEmulator]:
    """One emulator for the module's many requests (none of them changes anything)."""
    running = start_emulator(EmulatorSettings())
    yield running
    running.state.close()
    running.served.stop()


def call(emulator: RunningEmulator, method: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.request(method, emulator.url + path, auth=AUTH, timeout=10, **kwargs)


def served_operations(emulator: RunningEmulator) -> list[tuple[str, str, str]]:
    """(spec path, method, concrete path) of every spec operation the emulator routes."""
    rules = emulator.routed()
    found = []
    for path, item in spec()["paths"].items():
        for method in ("get", "post"):
            if method in item and (template(path), method) in rules:
                concrete = re.sub(r"\{[^}]+\}", "XX" + "0" * 32, path)
                found.append((path, method, concrete))
    return found


def kind_of(schema: dict[str, Any]) -> str | None:
    if schema.get("type") == "array":
        schema = schema.get("items", {})
    for kind in ("date-time", "uri"):
        if schema.get("format") == kind:
            return kind
    if "enum" in schema:
        return "enum"
    if schema.get("type") in ("integer", "boolean"):
        return str(schema["type"])
    return "pattern" if "pattern" in schema else None


def test_every_constrained_parameter_of_every_served_operation_gets_twilios_400(
    served: RunningEmulator, contract: ContractChecker
) -> None:
    checked = []
    for path, method, concrete in served_operations(served):
        for param in operation_params(template(path), method):
            kind = kind_of(param.schema)
            if kind is None:
                continue
            sent = {param.name: MALFORMED[kind]}
            where = {"data": sent} if param.source == "form" else {"params": sent}
            answer = call(served, method.upper(), concrete, **where)
            assert answer.status_code == 400, (method, path, param.name, answer.text)
            body = answer.json()
            contract.check_error(400, body)
            assert body["code"] == param.code and param.name in body["message"]
            checked.append(param.name)
    assert {"PreWebhookUrl", "MessagingServiceSid", "DateCreated", "State"} <= set(checked)
    assert {"LastReadMessageIndex", "ReachabilityEnabled", "Configuration.Url"} <= set(checked)


def test_an_empty_sid_is_refused_not_kept_as_empty(served: RunningEmulator) -> None:
    """No resource has an empty SID: keeping one would answer a value the spec forbids."""
    for path, method, concrete in served_operations(served):
        for param in operation_params(template(path), method):
            if kind_of(param.schema) != "pattern" or param.source != "form":
                continue
            answer = call(served, method.upper(), concrete, data={param.name: ""})
            assert answer.status_code == 400, (method, path, param.name, answer.text)
            assert answer.json()["code"] == param.code


@pytest.mark.parametrize(("name", "code"), [("PreWebhookUrl", 50077), ("PostWebhookUrl", 50078)])
@settings(max_examples=40, deadline=None)
@given(value=st.text(min_size=1).filter(lambda v: "://" not in v) | st.sampled_from(NOT_URLS))
def test_a_webhook_url_that_is_not_one_is_refused_and_not_kept(
    served: RunningEmulator, name: str, code: int, value: str
) -> None:
    answer = call(served, "POST", HOOKS, data={name: value})
    assert (answer.status_code, answer.json()["code"]) == (400, code), value
    kept = call(served, "GET", HOOKS).json()
    assert value not in (kept["pre_webhook_url"], kept["post_webhook_url"])


@settings(max_examples=25, deadline=None)
@given(url=urls())
def test_a_webhook_url_is_kept_as_sent(served: RunningEmulator, url: str) -> None:
    answer = call(served, "POST", HOOKS, data={"PreWebhookUrl": url})
    assert answer.status_code == 200, answer.text
    assert answer.json()["pre_webhook_url"] == url
    call(served, "POST", HOOKS, data={"PreWebhookUrl": ""})  # cleared: no pre-event screening


@pytest.mark.parametrize("webhooks", ["true", "false"])
def test_a_conversation_with_a_messaging_service_and_email_binding(
    served: RunningEmulator, webhooks: str
) -> None:
    form = {"MessagingServiceSid": "MG" + "a" * 32, "Bindings.Email.Address": "a@example.com"}
    headers = {"X-Twilio-Webhook-Enabled": webhooks}
    made = call(
        served,
        "POST",
        f"/v1/Services/{EMULATOR_SERVICE_SID}/Conversations",
        data=form,
        headers=headers,
    )
    assert made.status_code == 201, made.text
    unknown = call(
        served, "POST", "/v1/Services/IS" + "f" * 32 + "/Conversations", data=form, headers=headers
    )
    assert (unknown.status_code, unknown.json()["code"]) == (404, 20404), unknown.text


@settings(max_examples=30, deadline=None)
@given(
    when=st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-6, minutes=-36))]))
)
def test_any_date_created_is_kept_and_written_as_the_spec_says(
    served: RunningEmulator, when: datetime
) -> None:
    """Years below 1000 keep four digits; a date that leaves years 1-9999 in UTC is a 400."""
    conversation = call(served, "POST", "/v1/Conversations").json()["sid"]
    sent = when.isoformat()
    answer = call(
        served,
        "POST",
        f"/v1/Conversations/{conversation}/Messages",
        data={"Body": "hi", "DateCreated": sent},
    )
    try:
        utc = when.astimezone(UTC)
    except OverflowError:
        assert (answer.status_code, answer.json()["code"]) == (400, 20001), answer.text
        return
    assert answer.status_code == 201, answer.text
    assert answer.json()["date_created"] == f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S}Z"


def test_a_webhook_writes_an_early_date_with_four_digit_years(
    emulator: RunningEmulator, receiver: WebhookReceiver
) -> None:
    conversation = call(emulator, "POST", "/v1/Conversations").json()["sid"]
    call(
        emulator,
        "POST",
        f"/v1/Conversations/{conversation}/Messages",
        data={"Body": "hi", "DateCreated": "0999-01-02T03:04:05Z"},
        headers={"X-Twilio-Webhook-Enabled": "true"},
    )
    (hit,) = receiver.wait_for(1)
    assert hit.params["DateCreated"] == "0999-01-02T03:04:05.000Z"


# -- parameters Twilio keeps and the emulator stores and echoes ------------------------------

MG = "MG" + "b" * 32
RL = "RL" + "c" * 32
EARLIER = datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)
LATER = datetime(2021, 6, 7, 8, 9, 10, tzinfo=UTC)


def test_a_conversation_keeps_its_messaging_service_email_binding_timers_and_dates(
    api: Any,
) -> None:
    made = api.conversations.create(
        messaging_service_sid=MG,
        bindings_email_address="support@example.com",
        bindings_email_name="Support",
        timers_inactive="PT1M",
        timers_closed="P1D",
        date_created=EARLIER,
        date_updated=LATER,
    )
    assert made.messaging_service_sid == MG
    assert made.bindings == {
        "email": {"projected_address": "support@example.com", "name": "Support"}
    }
    assert set(made.timers) == {"date_inactive", "date_closed"}
    assert (made.date_created, made.date_updated) == (EARLIER, LATER)
    cleared = api.conversations(made.sid).update(timers_closed="PT0S", date_created=LATER)
    assert set(cleared.timers) == {"date_inactive"} and cleared.date_created == LATER
    assert api.conversations(made.sid).fetch().messaging_service_sid == MG


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({"Timers.Inactive": "ten minutes"}, 50379),
        ({"Timers.Closed": "P1Y"}, 50380),
        ({"Timers.Inactive": "PT30S"}, 50375),
        ({"Timers.Closed": "PT9M"}, 50376),
        ({"MessagingServiceSid": "MG123"}, 50341),
    ],
)
def test_a_conversation_parameter_out_of_twilios_bounds_is_refused(
    served: RunningEmulator, form: dict[str, str], code: int
) -> None:
    answer = call(served, "POST", "/v1/Conversations", data=form)
    assert (answer.status_code, answer.json()["code"]) == (400, code), answer.text


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({"Body": "hi", "MediaSid": "ME" + "d" * 32}, 50507),
        ({"Body": "hi", "MediaSid": "ME12"}, 50510),
        ({"ContentSid": "HX" + "e" * 32}, 21655),
        ({"ContentSid": "HX12"}, 50526),
        ({"Body": "hi", "ContentVariables": '{"1": "x"}'}, 50528),
    ],
)
def test_media_and_templates_which_the_emulator_has_none_of_are_refused(
    served: RunningEmulator, form: dict[str, str], code: int
) -> None:
    conversation = call(served, "POST", "/v1/Conversations").json()["sid"]
    answer = call(served, "POST", f"/v1/Conversations/{conversation}/Messages", data=form)
    assert (answer.status_code, answer.json()["code"]) == (400, code), answer.text
    assert (
        call(served, "GET", f"/v1/Conversations/{conversation}/Messages").json()["messages"] == []
    )


def test_a_participant_keeps_its_role_dates_and_read_timestamp(api: Any) -> None:
    conversation = api.conversations.create().sid
    made = api.conversations(conversation).participants.create(
        identity="alice", role_sid=RL, date_created=EARLIER
    )
    assert (made.role_sid, made.date_created) == (RL, EARLIER)
    updated = (
        api.conversations(conversation)
        .participants(made.sid)
        .update(last_read_timestamp=LATER.isoformat(), date_updated=LATER)
    )
    assert (updated.last_read_timestamp, updated.date_updated) == ("2021-06-07T08:09:10Z", LATER)
    assert updated.role_sid == RL


def test_a_message_update_keeps_the_dates_it_was_given(api: Any) -> None:
    conversation = api.conversations.create().sid
    message = api.conversations(conversation).messages.create(body="hi")
    updated = (
        api.conversations(conversation)
        .messages(message.sid)
        .update(date_created=EARLIER, date_updated=LATER)
    )
    assert (updated.date_created, updated.date_updated) == (EARLIER, LATER)


def test_conversations_are_listed_by_creation_date_newest_first(api: Any) -> None:
    old = api.conversations.create(date_created=EARLIER).sid
    new = api.conversations.create(date_created=LATER).sid
    api.conversations.create()  # today
    between = api.conversations.list(start_date="2020-01-02", end_date="2021-06-07")
    assert [c.sid for c in between] == [new, old]
    assert [c.sid for c in api.conversations.list(end_date="2020-01-02")] == [old]


def test_a_chat_participant_can_be_renamed_and_given_a_group_mms_number(api: Any) -> None:
    conversation = api.conversations.create().sid
    participants = api.conversations(conversation).participants
    made = participants.create(identity="alice", messaging_binding_projected_address="+15005550006")
    assert made.messaging_binding == {"type": "sms", "projected_address": "+15005550006"}
    renamed = participants(made.sid).update(identity="alice2")
    assert renamed.identity == "alice2" and api.users("alice2").fetch().identity == "alice2"
    cleared = participants(made.sid).update(messaging_binding_projected_address="null")
    assert cleared.messaging_binding is None
    error = twilio_error(participants(made.sid).update, messaging_binding_projected_address="null")
    assert (error.status, error.code) == (400, 50442)
    participants.create(identity="bob")
    assert twilio_error(participants(made.sid).update, identity="bob").code == 50433
    assert (
        twilio_error(
            participants(made.sid).update, messaging_binding_proxy_address="+15005550007"
        ).code
        == 50440
    )


def test_an_sms_participant_can_move_to_another_twilio_number(api: Any) -> None:
    first, second = api.conversations.create().sid, api.conversations.create().sid
    phone = {"messaging_binding_address": "+15551230001"}
    made = api.conversations(first).participants.create(
        **phone, messaging_binding_proxy_address="+15005550006"
    )
    moved = (
        api.conversations(first)
        .participants(made.sid)
        .update(messaging_binding_proxy_address="+15005550007")
    )
    assert moved.messaging_binding["proxy_address"] == "+15005550007"
    # the old pair is free again, the new one taken
    api.conversations(second).participants.create(
        **phone, messaging_binding_proxy_address="+15005550006"
    )
    taken = twilio_error(
        api.conversations(second).participants.create,
        **phone,
        messaging_binding_proxy_address="+15005550007",
    )
    assert taken.code == 50416
    update = api.conversations(first).participants(made.sid).update
    assert twilio_error(update, messaging_binding_projected_address="+15005550008").code == 50443
    assert twilio_error(update, identity="carol").code == 50211
