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
from webapp.emulator import EmulatorSettings
from webapp.emulator.params import operation_params, spec, template

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
