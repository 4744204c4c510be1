"""A host site's users in Parley over real HTTP (gunicorn + gevent, Redis, the emulator):
identities that are no usernames (``42``, ``user|42``) chat, type and show up through the API
and the stream; the host's back-channel logout ends an open stream; a token works once,
whichever worker sees it again (the jti is remembered in Redis)."""

from __future__ import annotations

from urllib.parse import quote

from tests.support import host_site
from tests.support.clients import ApiClient, SignalReader, StreamReader
from tests.support.servers import ParleyServer
from tests.support.waiting import wait_until


def host_user(server: ParleyServer, identity: str, name: str | None = None) -> ApiClient:
    return host_site.signed_in(server.url, identity, **({"name": name} if name else {}))


def test_identities_that_are_not_usernames_chat_live(sso_parley_server: ParleyServer) -> None:
    forty_two = host_user(sso_parley_server, "42", "Forty Two")
    other = host_user(sso_parley_server, "user|42", "Another 42")
    stream = StreamReader(other, other.stream_cursor())
    signals = SignalReader(other)
    try:
        listed = forty_two.get("/api/users?q=anoth").json()["users"]
        them = {"identity": "user|42", "display_name": "Another 42", "username": "user|42"}
        assert them in listed
        sid = forty_two.start_dm("user|42")["sid"]
        assert forty_two.send(sid, "hello from 42").status_code == 201
        event = stream.wait_for("message_added", lambda d: d["message"]["body"] == "hello from 42")
        assert event.data["message"]["author"] == "42"
        assert forty_two.post(f"/api/conversations/{sid}/typing").status_code == 204
        typing = signals.wait_for("typing")
        assert typing.data == {"conversation_sid": sid, "identity": "42"}
        presence = forty_two.get("/api/presence").json()["presence"]
        assert presence == {"user|42": True}
        reply = other.send(sid, "and back from user|42")
        assert reply.status_code == 201
        assert other.get(f"/api/conversations/{sid}/messages").json()["messages"][-1]["author"] == (
            "user|42"
        )
        # The same pair always finds the same conversation, from either side.
        assert other.start_dm("42")["sid"] == sid
    finally:
        stream.close()
        signals.close()


def test_an_identity_with_a_slash_can_be_removed_from_a_group(
    sso_parley_server: ParleyServer,
) -> None:
    owner = host_user(sso_parley_server, "team/owner")
    seven = host_user(sso_parley_server, "team/7")
    host_user(sso_parley_server, "8")
    created = owner.post(
        "/api/conversations", {"participants": ["team/7", "8"], "friendly_name": "Team"}
    )
    assert created.status_code == 201, created.text
    sid = created.json()["conversation"]["sid"]
    listed = seven.get("/api/conversations").json()["conversations"]
    assert [c["sid"] for c in listed] == [sid]
    gone = owner.session.delete(
        f"{owner.base_url}/api/conversations/{sid}/participants/{quote('team/7', safe='')}",
        headers={"X-CSRFToken": owner.csrf_token},
        timeout=10,
    )
    assert gone.status_code == 204, gone.text
    people = owner.get(f"/api/conversations/{sid}").json()["conversation"]["participants"]
    assert people == ["8", "team/owner"]


def test_the_host_logout_ends_the_open_stream_and_every_session(
    sso_parley_server: ParleyServer,
) -> None:
    leaving = host_user(sso_parley_server, "user|99")
    second_device = host_user(sso_parley_server, "user|99")
    stream = StreamReader(leaving, leaving.stream_cursor())
    try:
        assert stream.next_event().event == "resumed"  # subscribed
        answer = host_site.log_out("user|99", sso_parley_server.url)
        assert answer.status_code == 200 and answer.json() == {"ended": True}
        wait_until(stream.ended, 10, "the stream to end")
        for client in (leaving, second_device):
            assert client.get("/api/conversations").status_code == 401
    finally:
        stream.close()


def test_a_token_is_accepted_once(sso_parley_server: ParleyServer) -> None:
    token = host_site.generate_token("user|5", sso_parley_server.url)
    ApiClient(sso_parley_server.url).sign_in_from_host("user|5", token)
    again = ApiClient(sso_parley_server.url).session.post(
        sso_parley_server.url + "/sso/login",
        data={"token": token},
        timeout=10,
        allow_redirects=False,
    )
    assert again.status_code == 401
    assert "already used" in again.text


def test_identities_no_user_can_have_are_400_on_any_database(
    sso_parley_server: ParleyServer,
) -> None:
    """A NUL or a newline is no identity: refused before the database sees it (PostgreSQL
    would fail the query)."""
    who = host_user(sso_parley_server, "user|77")
    for bad in ("a\x00b", "a\nb", "x" * 300):
        answer = who.post("/api/conversations", {"participants": [bad]})
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["code"] == "invalid_identity"
    host_user(sso_parley_server, "user|78")
    group = who.post("/api/conversations", {"participants": ["user|78"], "friendly_name": "G"})
    sid = group.json()["conversation"]["sid"]
    gone = who.session.delete(
        f"{who.base_url}/api/conversations/{sid}/participants/a%00b",
        headers={"X-CSRFToken": who.csrf_token},
        timeout=10,
    )
    assert gone.status_code == 400 and gone.json()["error"]["code"] == "invalid_identity"
