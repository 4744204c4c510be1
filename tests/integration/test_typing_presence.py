"""Typing and presence over real HTTP: gunicorn + gevent, real Redis, the emulator.

Both are signals: they reach the other people's streams without an ``id:`` (so they never
disturb resume), never the typer's own, and only streams that ask for them (``signals=1``).
Fresh users per test, so that streams left by other tests cannot make anyone look online.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable

import pytest

from tests.support.clients import ApiClient, SignalReader, StreamReader
from tests.support.servers import ParleyServer, run_parley
from tests.support.waiting import wait_until
from webapp.events.redis_broker import connect
from webapp.events.types import EventId
from webapp.people.presence import RedisPresence

PASSWORD = "typing-presence-pw"


def register(server: ParleyServer, prefix: str) -> ApiClient:
    """A new user through the real registration form, then logged in like the others."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    client = ApiClient(server.url)
    page = client.session.get(server.url + "/register", timeout=10)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
    assert token
    form = {"username": name, "password": PASSWORD, "confirm": PASSWORD}
    answer = client.session.post(
        server.url + "/register", data={**form, "csrf_token": token.group(1)}, timeout=10
    )
    assert answer.status_code == 200, answer.text
    return ApiClient(server.url).login(name, PASSWORD)


@pytest.fixture
def people(parley_server: ParleyServer) -> Callable[[str], ApiClient]:
    return lambda prefix: register(parley_server, prefix)


def test_typing_reaches_the_others_without_an_id_and_never_the_typer(
    people: Callable[[str], ApiClient],
) -> None:
    alice, bob = people("ty-alice"), people("ty-bob")
    sid = str(alice.start_dm(bob.username)["sid"])
    bob_page, alice_page, alice_other_tab = (
        SignalReader(bob),
        SignalReader(alice),
        SignalReader(alice),
    )
    bob_tool = StreamReader(bob)  # no signals=1: sees logged events only
    try:
        bob_tool.wait_for("resync")
        answer = alice.post(f"/api/conversations/{sid}/typing")
        assert answer.status_code == 204 and answer.text == ""
        typing = bob_page.wait_for("typing")
        assert typing.id is None
        assert typing.data == {"conversation_sid": sid, "identity": alice.username}
        assert alice_page.signals("typing", 0.5) == []
        assert alice_other_tab.signals("typing", 0.1) == []
        assert [e for e in bob_tool.drain(0.3) if e.event in ("typing", "presence")] == []
        # The stream's ids are untouched: the next message follows the cursor without a gap.
        cursor = bob.stream_cursor()
        assert alice.send(sid, "done typing").status_code == 201
        added = bob_page.wait_for("message_added")
        before, after = EventId.parse(cursor), EventId.parse(added.id)
        assert before is not None and after is not None
        assert (after.epoch, after.seq) == (before.epoch, before.seq + 1)
    finally:
        for reader in (bob_page, alice_page, alice_other_tab, bob_tool):
            reader.close()


def test_typing_is_throttled_by_the_server(people: Callable[[str], ApiClient]) -> None:
    alice, bob = people("th-alice"), people("th-bob")
    sid = str(alice.start_dm(bob.username)["sid"])
    bob_page = SignalReader(bob)
    try:
        for _ in range(5):  # a client that ignores the 2.5 s rhythm
            assert alice.post(f"/api/conversations/{sid}/typing").status_code == 204
        bob_page.wait_for("typing")
        assert bob_page.signals("typing", 1.0) == []  # the other four were dropped
        # Sending the message ends the burst: a quick next one shows "typing…" at once.
        assert alice.send(sid, "first").status_code == 201
        assert alice.post(f"/api/conversations/{sid}/typing").status_code == 204
        bob_page.wait_for("typing")
        assert alice.post(f"/api/conversations/{sid}/typing").status_code == 204
        assert bob_page.signals("typing", 1.0) == []  # and the limit holds again

        def relayed_again() -> bool:
            assert alice.post(f"/api/conversations/{sid}/typing").status_code == 204
            return bool(bob_page.signals("typing", 0.3))

        wait_until(relayed_again, 6, "a typing signal after the throttle interval")
    finally:
        bob_page.close()


def test_an_outsider_cannot_type_into_a_conversation(
    people: Callable[[str], ApiClient],
) -> None:
    alice, bob, carol = people("ou-alice"), people("ou-bob"), people("ou-carol")
    sid = str(alice.start_dm(bob.username)["sid"])
    bob_page = SignalReader(bob)
    try:
        refused = carol.post(f"/api/conversations/{sid}/typing")
        missing = carol.post(f"/api/conversations/CH{'0' * 32}/typing")
        assert refused.status_code == missing.status_code == 404
        assert refused.json() == missing.json()
        assert refused.json()["error"]["code"] == "not_found"
        assert bob_page.signals("typing", 0.5) == []
        no_csrf = carol.session.post(f"{carol.base_url}/api/conversations/{sid}/typing", timeout=10)
        assert no_csrf.status_code == 400
    finally:
        bob_page.close()


def test_contacts_see_a_user_come_online_and_go_offline(
    people: Callable[[str], ApiClient],
) -> None:
    alice, bob, stranger = people("pr-alice"), people("pr-bob"), people("pr-stranger")
    alice.start_dm(bob.username)
    bob_page, stranger_page = SignalReader(bob), SignalReader(stranger)
    try:
        assert bob.get("/api/presence").json() == {"presence": {alice.username: False}}
        first_tab, second_tab = StreamReader(alice), StreamReader(alice)
        online = bob_page.wait_for("presence", lambda d: d["identity"] == alice.username)
        assert online.id is None and online.data == {"identity": alice.username, "online": True}
        assert bob.get("/api/presence").json() == {"presence": {alice.username: True}}

        first_tab.close()  # one tab left: still online, nothing announced
        assert [e.data for e in bob_page.signals("presence", 1.0)] == []
        second_tab.close()
        offline = bob_page.wait_for("presence", lambda d: d["identity"] == alice.username)
        assert offline.data == {"identity": alice.username, "online": False}
        assert bob.get("/api/presence").json() == {"presence": {alice.username: False}}
        assert stranger_page.signals("presence", 0.3) == []  # shares no conversation
        assert stranger.get("/api/presence").json() == {"presence": {}}
    finally:
        bob_page.close()
        stranger_page.close()


def test_contacts_are_cached_in_redis_and_a_new_member_is_a_contact_at_once(
    parley_server: ParleyServer, people: Callable[[str], ApiClient]
) -> None:
    """The presence storm (issue #7): a second lookup is served by the shared cache, not by
    Twilio; a participant added through the API (then its webhook) drops the cached contacts of
    everyone in the conversation, so the newcomer is a contact at once, both ways."""
    alice, bob, carol = people("cc-alice"), people("cc-bob"), people("cc-carol")
    created = alice.post(
        "/api/conversations",
        {"participants": [bob.username], "friendly_name": f"cc-{uuid.uuid4().hex[:6]}"},
    )
    assert created.status_code == 201, created.text
    sid = created.json()["conversation"]["sid"]
    redis_client = connect(parley_server.env["REDIS_URL"])
    key = f"parley:contacts:of:{alice.username}"
    assert alice.get("/api/presence").json() == {"presence": {bob.username: False}}

    def cached_now() -> bool:
        # Kept once no change of alice's conversations lands during a lookup (the group's own
        # webhooks may: a lookup that overlaps such a change is not kept, it may predate it).
        alice.get("/api/presence")
        return redis_client.get(key) is not None

    wait_until(cached_now, 10, "alice's contacts to be cached")
    # Behind the cache's back: the next lookup answers from it, with no Twilio call.
    redis_client.set(key, json.dumps([bob.username, "cc-ghost"]), ex=60)
    cached = alice.get("/api/presence").json()["presence"]
    assert cached == {bob.username: False, "cc-ghost": False}
    assert carol.get("/api/presence").json() == {"presence": {}}  # cached: nobody

    added = alice.post(f"/api/conversations/{sid}/participants", {"username": carol.username})
    assert added.status_code == 201, added.text
    everyone = {alice.username: False, bob.username: False, carol.username: False}
    for person in (alice, bob, carol):  # no wait: dropped before the API answered
        mine = dict(everyone)
        del mine[person.username]
        assert person.get("/api/presence").json() == {"presence": mine}


def test_a_crashed_workers_users_go_offline_when_its_entries_expire(
    parley_server: ParleyServer, people: Callable[[str], ApiClient]
) -> None:
    """Another "worker" marks a user online with a 1 s entry, then dies without a word: the
    server's sweep reports the user offline to contacts, and REST agrees at once."""
    alice, crashed_user = people("cr-alice"), people("cr-gone")
    alice.start_dm(crashed_user.username)
    alice_page = SignalReader(alice)
    try:
        crashed = RedisPresence(connect(parley_server.env["REDIS_URL"]), ttl=1.0)
        assert crashed.connected(crashed_user.username)
        present = alice.get("/api/presence").json()["presence"]
        assert present == {crashed_user.username: True}
        # The entry expires after 1 s; the next sweep (every PRESENCE_TICK, 5 s) reports it.
        # A generous deadline: on a loaded machine the background worker may run late.
        offline = alice_page.wait_for(
            "presence", lambda d: d["identity"] == crashed_user.username, timeout=30
        )
        assert offline.data["online"] is False
        assert alice.get("/api/presence").json()["presence"] == {crashed_user.username: False}
    finally:
        alice_page.close()


def test_typing_and_presence_work_with_the_in_process_broker(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """``make run``'s set-up: no Redis; presence is a counter, signals go straight to queues."""
    with run_parley(tmp_path_factory.mktemp("memory-broker")) as server:
        alice = ApiClient(server.url).login("alice", server.password)
        bob = ApiClient(server.url).login("bob", server.password)
        sid = str(alice.start_dm("bob")["sid"])
        bob_page = SignalReader(bob)
        try:
            alice_tab = StreamReader(alice)
            online = bob_page.wait_for("presence", lambda d: d["identity"] == "alice")
            assert online.id is None and online.data["online"] is True
            assert bob.get("/api/presence").json() == {"presence": {"alice": True}}
            assert alice.post(f"/api/conversations/{sid}/typing").status_code == 204
            typing = bob_page.wait_for("typing")
            assert typing.id is None and typing.data["identity"] == "alice"
            alice_tab.close()
            offline = bob_page.wait_for("presence", lambda d: d["identity"] == "alice")
            assert offline.data["online"] is False
        finally:
            bob_page.close()
