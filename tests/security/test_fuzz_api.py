"""Generated bad input at the API and the webhook: never a 5xx, always the JSON error shape on
the API, nothing published to anyone's stream, and the server keeps serving."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from tests.support.clients import ApiClient, StreamReader
from tests.support.servers import ParleyServer

BOUNDED = settings(
    max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None
)
DEMO_USERS = {"alice", "bob", "carol"}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=8,
)
bad_sids = st.text(min_size=1, max_size=60).map(lambda s: quote(s, safe=""))


class Fuzzing:
    def __init__(self, server: ParleyServer) -> None:
        self.server = server
        self.carol = ApiClient(server.url).login("carol", server.password)
        alice = ApiClient(server.url).login("alice", server.password)
        self.own_sid = str(self.carol.start_dm("alice")["sid"])
        self.watchers = [StreamReader(alice), StreamReader(self.carol)]
        for watcher in self.watchers:
            watcher.wait_for("resync")
            watcher.drain(0.5)

    def published(self) -> list[Any]:
        return [e for w in self.watchers for e in w.drain(0.3) if e.event not in ("resync",)]


@pytest.fixture(scope="module")
def fuzz(parley_server: ParleyServer) -> Iterator[Fuzzing]:
    state = Fuzzing(parley_server)
    yield state
    assert state.published() == [], "bad input published an event"
    assert requests.get(parley_server.url + "/login", timeout=10).status_code == 200
    for watcher in state.watchers:
        watcher.close()


def _assert_json_error(response: requests.Response) -> None:
    assert response.status_code < 500, (response.request.method, response.url, response.text)
    assert 400 <= response.status_code, (response.url, response.text)
    error = response.json()["error"]
    assert isinstance(error["code"], str) and isinstance(error["message"], str)
    assert "Traceback" not in response.text


def _is_valid_new_conversation(body: Any) -> bool:
    if not isinstance(body, dict) or set(body) - {"participants", "friendly_name"}:
        return False
    names = body.get("participants")
    return isinstance(names, list) and any(
        isinstance(n, str) and n.strip().lower() in DEMO_USERS - {"carol"} for n in names
    )


@BOUNDED
@given(body=json_values)
def test_bad_new_conversations(fuzz: Fuzzing, body: Any) -> None:
    assume(not _is_valid_new_conversation(body))
    _assert_json_error(fuzz.carol.post("/api/conversations", body))


@BOUNDED
@given(sid=bad_sids, limit=st.text(max_size=12), before=st.text(max_size=12))
def test_bad_sids_and_query_parameters(fuzz: Fuzzing, sid: str, limit: str, before: str) -> None:
    _assert_json_error(fuzz.carol.get(f"/api/conversations/{sid}"))
    params = {"limit": limit, "before": before}
    answer = fuzz.carol.get(f"/api/conversations/{fuzz.own_sid}/messages", params=params)
    assert answer.status_code < 500
    if answer.status_code >= 400:
        _assert_json_error(answer)


@BOUNDED
@given(body=json_values, extra=st.text(min_size=1, max_size=12))
def test_bad_messages_to_ones_own_conversation(fuzz: Fuzzing, body: Any, extra: str) -> None:
    if isinstance(body, dict):
        body = {**body, "x-" + extra: 1}  # an unknown field: never valid
    _assert_json_error(fuzz.carol.post(f"/api/conversations/{fuzz.own_sid}/messages", body))
    _assert_json_error(fuzz.carol.post(f"/api/conversations/{fuzz.own_sid}/read", body))


def _call(fuzz: Fuzzing, method: str, path: str, body: Any = None) -> requests.Response:
    """Any method, with the session's CSRF token (ApiClient only has GET and POST)."""
    client = fuzz.carol
    headers = {"X-CSRFToken": client.csrf_token}
    return client.session.request(
        method, client.base_url + path, json=body, headers=headers, timeout=10
    )


@BOUNDED
@given(body=json_values)
def test_bad_group_changes(fuzz: Fuzzing, body: Any) -> None:
    """Renames and additions: carol's conversation is a 1:1, so none can ever succeed."""
    base = f"/api/conversations/{fuzz.own_sid}"
    _assert_json_error(_call(fuzz, "PATCH", base, body))
    _assert_json_error(_call(fuzz, "POST", base + "/participants", body))


@BOUNDED
@given(sid=bad_sids, who=bad_sids, message=bad_sids)
def test_bad_sids_everywhere_else(fuzz: Fuzzing, sid: str, who: str, message: str) -> None:
    """Typing, reading, editing, deleting and removing, in conversations carol is not in (or
    that do not exist), and removals in her own 1:1 (only "me" leaves; it is not fuzzed)."""
    assume(who.lower() != "me")
    base = f"/api/conversations/{sid}"
    _assert_json_error(_call(fuzz, "POST", base + "/typing"))
    _assert_json_error(_call(fuzz, "POST", base + "/read", {"index": 0}))
    _assert_json_error(_call(fuzz, "PATCH", f"{base}/messages/{message}", {"body": "x"}))
    _assert_json_error(_call(fuzz, "DELETE", f"{base}/messages/{message}"))
    _assert_json_error(_call(fuzz, "DELETE", f"{base}/participants/{who}"))
    own = f"/api/conversations/{fuzz.own_sid}"
    _assert_json_error(_call(fuzz, "DELETE", f"{own}/participants/{who}"))
    _assert_json_error(_call(fuzz, "PATCH", f"{own}/messages/{message}", {"body": "x"}))


@BOUNDED
@given(
    raw=st.binary(max_size=200),
    content_type=st.sampled_from(
        ["application/json", "text/plain", "application/x-www-form-urlencoded", ""]
    ),
)
def test_bytes_that_are_not_json(fuzz: Fuzzing, raw: bytes, content_type: str) -> None:
    assume(content_type != "application/json" or not raw.strip().startswith(b"{"))
    answer = fuzz.carol.session.post(
        f"{fuzz.carol.base_url}/api/conversations/{fuzz.own_sid}/messages",
        data=raw,
        headers={"X-CSRFToken": fuzz.carol.csrf_token, "Content-Type": content_type},
        timeout=10,
    )
    _assert_json_error(answer)


def test_huge_bodies_are_refused_with_json(fuzz: Fuzzing) -> None:
    path = f"/api/conversations/{fuzz.own_sid}/messages"
    _assert_json_error(fuzz.carol.post(path, {"body": "x" * (40 * 1024)}))  # over Twilio's 32 KB
    _assert_json_error(fuzz.carol.post(path, {"body": "x" * (300 * 1024)}))  # over the request cap


params_strategy = st.dictionaries(st.text(max_size=20), st.text(max_size=40), max_size=8)


@BOUNDED
@given(params=params_strategy)
def test_unsigned_webhooks_are_refused(fuzz: Fuzzing, params: dict[str, str]) -> None:
    answer = requests.post(fuzz.server.url + "/twilio/webhook", data=params, timeout=10)
    assert answer.status_code == 403


@BOUNDED
@given(
    params=params_strategy,
    event=st.sampled_from(["onMessageAdded", "onParticipantAdded", "onConversationUpdated", "x"]),
    index=st.text(max_size=8),
)
def test_signed_garbage_webhooks_never_fail_the_server(
    fuzz: Fuzzing, params: dict[str, str], event: str, index: str
) -> None:
    """Signed means Twilio sent it; garbage about a conversation nobody has publishes nothing."""
    params = {**params, "EventType": event, "ConversationSid": "CH" + "f" * 32, "Index": index}
    url = fuzz.server.url + "/twilio/webhook"
    signature = RequestValidator(fuzz.server.auth_token).compute_signature(url, params)
    answer = requests.post(url, data=params, headers={"X-Twilio-Signature": signature}, timeout=10)
    assert answer.status_code in (200, 400, 503), answer.text  # 503 = "retry later", by design
