"""The data path end to end: API → emulator → signed webhook → broker (Redis) → /stream.

Everything is real: gunicorn with a gevent worker, the emulator over HTTP, a private Redis.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.support.clients import ApiClient, StreamReader
from tests.support.servers import ParleyServer
from tests.support.waiting import wait_until

Login = Callable[[str], ApiClient]


def unique(text: str) -> str:
    return f"{text} {uuid.uuid4().hex[:8]}"


def test_message_from_alice_reaches_bobs_stream_and_not_carols(login: Login) -> None:
    alice, bob, carol = login("alice"), login("bob"), login("carol")
    bob_stream = StreamReader(bob, bob.stream_cursor())
    carol_stream = StreamReader(carol, carol.stream_cursor())
    conversation = alice.start_dm("bob")
    body = unique("hi")
    sent = alice.send(conversation["sid"], body, client_id="c-1")
    assert sent.status_code == 201, sent.text

    got = bob_stream.wait_for("message_added", lambda d: d["message"]["body"] == body)
    assert got.data["conversation_sid"] == conversation["sid"]
    assert got.data["message"]["author"] == "alice"
    assert got.data["message"]["attributes"] == {"client_id": "c-1"}
    assert got.id is not None
    leaked = [e for e in carol_stream.drain(0.3) if e.event not in ("resumed", "resync")]
    assert leaked == []
    bob_stream.close()
    carol_stream.close()


def test_bob_sees_a_new_conversation_at_once(login: Login, parley_server: ParleyServer) -> None:
    bob = login("bob")
    stream = StreamReader(bob, bob.stream_cursor())
    # A fresh user, so the conversation is new.
    name = "user" + uuid.uuid4().hex[:8]
    newcomer = ApiClient(parley_server.url)
    page = newcomer.session.get(parley_server.url + "/register")
    token = page.text.split('name="csrf_token"')[1].split('value="')[1].split('"')[0]
    newcomer.session.post(
        parley_server.url + "/register",
        data={
            "username": name,
            "password": "secret-pass-1",
            "confirm": "secret-pass-1",
            "csrf_token": token,
        },
    )
    newcomer.login(name, "secret-pass-1")
    created = newcomer.post("/api/conversations", {"participants": ["bob"]})
    assert created.status_code == 201, created.text
    sid = created.json()["conversation"]["sid"]
    got = stream.wait_for("conversation_added", lambda d: d["conversation"]["sid"] == sid)
    assert sorted(got.data["conversation"]["participants"]) == ["bob", name]
    stream.close()


def test_history_is_complete_and_in_order(login: Login) -> None:
    alice, bob = login("alice"), login("bob")
    sid = alice.start_dm("bob")["sid"]
    bodies = [unique(f"m{n}") for n in range(3)]
    for n, body in enumerate(bodies):
        sender = alice if n % 2 == 0 else bob
        assert sender.send(sid, body).status_code == 201
    history = bob.get(f"/api/conversations/{sid}/messages?limit=50").json()["messages"]
    assert [m["body"] for m in history][-3:] == bodies
    indexes = [m["index"] for m in history]
    assert indexes == sorted(indexes)
    older = bob.get(f"/api/conversations/{sid}/messages?limit=1&before={indexes[-1]}").json()
    assert [m["index"] for m in older["messages"]] == [indexes[-2]]


def test_the_same_pair_always_gets_the_same_conversation(login: Login) -> None:
    bob, carol = login("bob"), login("carol")
    with ThreadPoolExecutor(4) as pool:
        results = list(
            pool.map(lambda c: c[0].start_dm(c[1]), [(bob, "carol"), (carol, "bob")] * 2)
        )
    assert len({r["sid"] for r in results}) == 1
    assert sorted(results[0]["participants"]) == ["bob", "carol"]


def test_outsider_cannot_read_or_write_a_conversation(login: Login) -> None:
    alice, carol = login("alice"), login("carol")
    sid = alice.start_dm("bob")["sid"]
    assert carol.get(f"/api/conversations/{sid}/messages").status_code == 404
    assert carol.get(f"/api/conversations/{sid}").status_code == 404
    assert carol.send(sid, "let me in").status_code == 404
    assert carol.get(f"/c/{sid}").status_code == 404
    listed = [c["sid"] for c in carol.get("/api/conversations").json()["conversations"]]
    assert sid not in listed
    error = carol.get(f"/api/conversations/{sid}/messages").json()
    assert error == {"error": {"code": "not_found", "message": "Conversation not found."}}


def test_logged_out_api_and_stream_get_401_json(parley_server: ParleyServer) -> None:
    for path in ("/api/conversations", "/api/users", "/api/token", "/stream"):
        response = requests.get(parley_server.url + path, timeout=5)
        assert response.status_code == 401, path
        assert response.json()["error"]["code"] == "unauthorized"
    page = requests.get(parley_server.url + "/", timeout=5, allow_redirects=False)
    assert page.status_code == 302 and "/login" in page.headers["Location"]


def test_stream_headers_and_first_bytes(login: Login) -> None:
    bob = login("bob")
    stream = StreamReader(bob, bob.stream_cursor())
    assert stream.status_code == 200
    assert stream.headers["Content-Type"].startswith("text/event-stream")
    assert stream.headers["Cache-Control"] == "no-cache"
    assert stream.headers["X-Accel-Buffering"] == "no"
    assert stream.next_event().event == "resumed"
    stream.close()


def test_reconnect_with_last_event_id_replays_what_was_missed(login: Login) -> None:
    alice, bob = login("alice"), login("bob")
    sid = alice.start_dm("bob")["sid"]
    first = StreamReader(bob, bob.stream_cursor())
    body1 = unique("before")
    alice.send(sid, body1)
    seen = first.wait_for("message_added", lambda d: d["message"]["body"] == body1)
    first.close()
    missed = [unique("while away") for _ in range(3)]
    for body in missed:
        alice.send(sid, body)
    again = StreamReader(bob, None, **{"Last-Event-ID": seen.id or ""})
    assert again.next_event().event == "resumed"
    replayed = [again.wait_for("message_added").data["message"]["body"] for _ in missed]
    assert replayed == missed
    again.close()


def test_unknown_cursor_gets_resync(login: Login) -> None:
    bob = login("bob")
    stream = StreamReader(bob, "00000000-5")
    event = stream.next_event()
    assert event.event == "resync" and event.id == event.data["cursor"]
    stream.close()


def test_bad_input_gets_clear_json_errors(login: Login) -> None:
    alice = login("alice")
    sid = alice.start_dm("bob")["sid"]
    path = f"/api/conversations/{sid}/messages"
    cases = [
        (alice.post(path, {"body": ""}), 400, "empty_message"),
        (alice.post(path, {"body": 5}), 400, "invalid_field"),
        (alice.post(path, {"body": "x", "extra": 1}), 400, "unknown_field"),
        (alice.post(path, {"body": "x" * (32 * 1024 + 1)}), 400, "too_long"),
        (alice.post(path, ["not", "an", "object"]), 400, "invalid_json"),
        (
            alice.post(path, data="body=x", headers={"Content-Type": "text/plain"}),
            415,
            "unsupported_media_type",
        ),
        (alice.post("/api/conversations", {"participants": ["nobody-here"]}), 404, "unknown_user"),
        (
            alice.post("/api/conversations", {"participants": ["<b>" * 500]}),
            400,
            "invalid_identity",
        ),
        (alice.post("/api/conversations", {"participants": "bob"}), 400, "invalid_field"),
        (alice.post("/api/conversations", {"participants": ["alice"]}), 400, "invalid_field"),
        (alice.get(f"{path}?limit=abc"), 400, "invalid_parameter"),
        (alice.get("/api/conversations/CHnope/messages"), 404, "not_found"),
        (alice.get(f"/api/conversations/CH{'0' * 32}/messages"), 404, "not_found"),
    ]
    for response, status, code in cases:
        assert response.status_code == status, (code, response.text)
        assert response.json()["error"]["code"] == code
        assert response.json()["error"]["message"]


def test_state_changing_calls_need_the_csrf_token(login: Login) -> None:
    alice = login("alice")
    response = alice.session.post(
        alice.base_url + "/api/conversations", json={"participants": ["bob"]}, timeout=5
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "csrf_failed"


def test_access_token_is_for_the_logged_in_user(login: Login) -> None:
    import jwt

    alice = login("alice")
    body = alice.get("/api/token?identity=bob").json()
    assert body["identity"] == "alice" and body["ttl"] == 3600
    claims = jwt.decode(body["token"], options={"verify_signature": False})
    assert claims["grants"]["identity"] == "alice"
    assert claims["grants"]["chat"]["service_sid"].startswith("IS")


def test_logout_ends_the_users_open_streams(parley_server: ParleyServer) -> None:
    carol = ApiClient(parley_server.url).login("carol", parley_server.password)
    stream = StreamReader(carol, carol.stream_cursor())
    assert stream.next_event().event == "resumed"
    response = carol.session.post(
        parley_server.url + "/logout", data={"csrf_token": carol.csrf_token}, timeout=5
    )
    assert response.status_code == 200 and "/login" in response.url
    wait_until(stream.ended, 5, "the logged-out user's stream to end")
    assert carol.get("/api/conversations").status_code == 401
