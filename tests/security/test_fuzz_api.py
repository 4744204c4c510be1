"""Generated bad input at the API and the webhook: never a 5xx, always the JSON error shape on
the API, nothing published to anyone's stream, and the server keeps serving."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator
from werkzeug.routing import Rule

from tests.security.conftest import Visitor
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
        self.visitor = Visitor(server.url)  # logged out: for the login and sign-up forms
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
    _assert_json_error(_call(fuzz, "PUT", f"/api/conversations/{fuzz.own_sid}/mute", body))


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
    _assert_json_error(_call(fuzz, "PUT", base + "/mute", {"duration": "hour"}))
    _assert_json_error(_call(fuzz, "DELETE", base + "/mute"))
    _assert_json_error(_call(fuzz, "PATCH", f"{base}/messages/{message}", {"body": "x"}))
    _assert_json_error(_call(fuzz, "DELETE", f"{base}/messages/{message}"))
    _assert_json_error(_call(fuzz, "GET", f"{base}/messages/{message}/deliveries"))
    _assert_json_error(_call(fuzz, "DELETE", f"{base}/participants/{who}"))
    _assert_json_error(_call(fuzz, "DELETE", base + "/membership"))
    own = f"/api/conversations/{fuzz.own_sid}"
    _assert_json_error(_call(fuzz, "DELETE", f"{own}/participants/{who}"))
    _assert_json_error(_call(fuzz, "PATCH", f"{own}/messages/{message}", {"body": "x"}))
    _assert_json_error(_call(fuzz, "GET", f"{own}/messages/{message}/deliveries"))


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


#: Text with one lone surrogate (U+D800..U+DFFF with no partner beside it: ``st.text`` draws
#: none): JSON can carry it as an escape (``"\\ud800"``), but it is no character.
lone_surrogate_text = st.tuples(
    st.text(max_size=8),
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
    st.text(max_size=8),
).map("".join)


def _somewhere_inside(bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """JSON values with ``bad`` at the top, or inside lists and objects, among good values."""
    return st.recursive(
        bad,
        lambda inner: (
            st.tuples(
                st.lists(json_values, max_size=2), inner, st.lists(json_values, max_size=2)
            ).map(lambda parts: [*parts[0], parts[1], *parts[2]])
            | st.tuples(
                st.dictionaries(st.text(max_size=8), json_values, max_size=2),
                st.text(max_size=8),
                inner,
            ).map(lambda parts: {**parts[0], parts[1]: parts[2]})
        ),
        max_leaves=4,
    )


#: Valid JSON, except for a lone surrogate in some string: a value or a key, at any depth.
lone_surrogate_bodies = _somewhere_inside(
    lone_surrogate_text
    | st.tuples(lone_surrogate_text, json_values).map(lambda pair: {pair[0]: pair[1]})
)


@st.composite
def deeply_nested_bodies(draw: st.DrawFn) -> str:
    """Lists and objects nested 64 to 16,000 levels deep (up to about 100 KB), as JSON text:
    Python itself could not serialise (or parse) most of them."""
    depth = draw(st.integers(min_value=64, max_value=16_000))
    pattern = draw(st.lists(st.sampled_from(["[", '{"a":']), min_size=1, max_size=3))
    opens = [pattern[level % len(pattern)] for level in range(depth)]
    closes = ["]" if opening == "[" else "}" for opening in reversed(opens)]
    return "".join(opens) + draw(st.sampled_from(["1", '"x"', "[]", "{}"])) + "".join(closes)


@pytest.fixture(scope="module")
def json_routes(fuzz: Fuzzing, url_rules: list[Rule]) -> list[tuple[str, str]]:
    """Every API route that may take a body, as (method, path) in carol's own conversation:
    read from the app's URL map, so a new route is fuzzed without being listed here."""
    values = {"sid": fuzz.own_sid, "message_sid": "IM" + "0" * 32, "who": "nobody"}
    routes = [
        (method, re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule).format(**values))
        for rule in url_rules
        if rule.rule.startswith("/api/")
        for method in sorted((rule.methods or set()) & {"POST", "PUT", "PATCH", "DELETE"})
    ]
    assert ("POST", f"/api/conversations/{fuzz.own_sid}/messages") in routes
    return routes


def _send_json_text(fuzz: Fuzzing, method: str, path: str, text: str) -> requests.Response:
    client = fuzz.carol
    headers = {"X-CSRFToken": client.csrf_token, "Content-Type": "application/json"}
    return client.session.request(
        method, client.base_url + path, data=text.encode(), headers=headers, timeout=10
    )


def _assert_refused_everywhere(fuzz: Fuzzing, routes: list[tuple[str, str]], text: str) -> None:
    """400 invalid_json (or 413 when over the size cap) on every API route; the login and
    sign-up forms, which also read JSON bodies, answer 4xx."""
    for method, path in routes:
        answer = _send_json_text(fuzz, method, path, text)
        _assert_json_error(answer)
        if answer.status_code != 413:
            assert answer.status_code == 400, (method, path, answer.text)
            assert answer.json()["error"]["code"] == "invalid_json", (method, path, answer.text)
    visitor = fuzz.visitor
    headers = {"X-CSRFToken": visitor.csrf_token, "Content-Type": "application/json"}
    for path in ("/login", "/register"):
        url = fuzz.server.url + path
        answer = visitor.session.post(url, data=text.encode(), headers=headers, timeout=10)
        assert 400 <= answer.status_code < 500, (path, answer.status_code, answer.text[:300])


@BOUNDED
@given(body=lone_surrogate_bodies)
@example(body={"body": "\ud800"})
@example(body={"\udfff": "a key"})
def test_lone_surrogates_anywhere_are_invalid_json(
    fuzz: Fuzzing, json_routes: list[tuple[str, str]], body: Any
) -> None:
    text = json.dumps(body)  # ASCII: the surrogate travels as the escape \udXXX
    _assert_refused_everywhere(fuzz, json_routes, text)


@BOUNDED
@given(text=deeply_nested_bodies())
@example(text="[" * 50_000 + "]" * 50_000)  # 100 KB
@example(text='{"a":' * 14_000 + "1" + "}" * 14_000)  # about 100 KB
def test_deeply_nested_bodies_are_invalid_json(
    fuzz: Fuzzing, json_routes: list[tuple[str, str]], text: str
) -> None:
    _assert_refused_everywhere(fuzz, json_routes, text)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_constants_python_accepts_are_invalid_json(
    fuzz: Fuzzing, json_routes: list[tuple[str, str]], constant: str
) -> None:
    _assert_refused_everywhere(fuzz, json_routes, f'{{"body": {constant}, "index": 1}}')


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
    sid=st.one_of(st.just("CH" + "f" * 32), st.text(max_size=36)),
)
def test_signed_garbage_webhooks_never_fail_the_server(
    fuzz: Fuzzing, params: dict[str, str], event: str, index: str, sid: str
) -> None:
    """Signed means Twilio sent it. Garbage is a 400, a conversation Twilio does not know has
    nothing to deliver (200); a 503 would make Twilio retry what can never succeed."""
    params = {**params, "EventType": event, "ConversationSid": sid, "Index": index}
    url = fuzz.server.url + "/twilio/webhook"
    signature = RequestValidator(fuzz.server.auth_token).compute_signature(url, params)
    answer = requests.post(url, data=params, headers={"X-Twilio-Signature": signature}, timeout=10)
    assert answer.status_code in (200, 400), answer.text
