"""Contacts (who shares a conversation with a user) are cached, in memory or in real Redis, and
dropped for everyone in a conversation, before and after a change, when its participant list is
forgotten; presence changes waiting to be announced are coalesced per user (issue #7)."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tests.unit.conftest import ON_REDIS_AND_CLUSTER, emptied_client
from webapp.events.redis_cluster import RedisClient, is_cluster
from webapp.people.contacts import (
    PRESENCE_MAX_GROUP,
    Contacts,
    ContactsCache,
    MemoryContacts,
    RedisContacts,
)
from webapp.people.participants import (
    MembershipCache,
    MemoryMembershipCache,
    RedisMembershipCache,
)
from webapp.people.presence_relay import Changes
from webapp.twilio_gateway import ConversationRecord, GatewayError, ParticipantRecord

SID = "CH00000000000000000000000000000007"
OTHER = "CH00000000000000000000000000000008"


def _cached(contacts: ContactsCache, identity: str) -> set[str] | None:
    return contacts.get(identity)[0]


def _put(
    contacts: ContactsCache, identity: str, people: set[str], conversations: list[str]
) -> None:
    """Contacts computed with nothing changing meanwhile (the generation just read)."""
    contacts.put(identity, people, conversations, contacts.get(identity)[1])


def _people(*names: str) -> list[ParticipantRecord]:
    return [ParticipantRecord(f"MB{n}", n, None, None) for n in names]


class Twilio:
    """What Twilio's participant lists say now (the cache's ``fetch``): only SID has people."""

    def __init__(self) -> None:
        self.members = _people("alice", "bob")
        self.gone = False
        self.fetches = 0

    def participants(self, conversation_sid: str) -> list[ParticipantRecord]:
        self.fetches += 1
        if self.gone:
            raise GatewayError("The requested resource was not found", 404, 20404)
        return list(self.members) if conversation_sid == SID else []


@pytest.fixture(params=["memory", *ON_REDIS_AND_CLUSTER])
def cache(request: pytest.FixtureRequest) -> Iterator[tuple[Twilio, MembershipCache]]:
    """The membership cache and its contacts: in memory, on one Redis, on the cluster."""
    twilio = Twilio()
    if request.param == "memory":
        yield twilio, MemoryMembershipCache(twilio.participants)
        return
    client = emptied_client(request, request.param)
    yield twilio, RedisMembershipCache(twilio.participants, client)
    client.close()


def test_contacts_are_kept_until_a_conversation_of_theirs_changes(
    cache: tuple[Twilio, MembershipCache],
) -> None:
    _twilio, membership = cache
    contacts = membership.contacts
    assert _cached(contacts, "alice") is None
    _put(contacts, "alice", {"bob"}, [SID])
    _put(contacts, "dave", {"erin"}, [OTHER])
    assert _cached(contacts, "alice") == {"bob"}
    membership.forget(OTHER)
    assert _cached(contacts, "alice") == {"bob"}  # not alice's conversation: kept
    assert _cached(contacts, "dave") is None


def test_a_new_member_and_the_old_ones_lose_their_cached_contacts(
    cache: tuple[Twilio, MembershipCache],
) -> None:
    twilio, membership = cache
    membership.participants(SID)
    _put(membership.contacts, "alice", {"bob"}, [SID])
    _put(membership.contacts, "carol", set(), [])  # carol shares nothing yet
    twilio.members = _people("alice", "bob", "carol")
    membership.forget(SID)  # the participant webhook (or the API call that added carol)
    assert _cached(membership.contacts, "alice") is None  # before the change: a member
    assert _cached(membership.contacts, "carol") is None  # after the change: a member
    fetches = twilio.fetches
    assert [p.identity for p in membership.participants(SID)] == ["alice", "bob", "carol"]
    assert twilio.fetches == fetches  # forget refilled the list the caller reads next


def test_a_removed_member_loses_contacts_even_once_the_list_expired(
    cache: tuple[Twilio, MembershipCache],
) -> None:
    twilio, membership = cache
    _put(membership.contacts, "bob", {"alice"}, [SID])  # no participant list cached now
    twilio.members = _people("alice")
    membership.forget(SID)
    assert _cached(membership.contacts, "bob") is None  # found through the conversation's index


def test_a_deleted_conversation_is_forgotten_without_an_error(
    cache: tuple[Twilio, MembershipCache],
) -> None:
    twilio, membership = cache
    membership.participants(SID)
    _put(membership.contacts, "alice", {"bob"}, [SID])
    _put(membership.contacts, "bob", {"alice"}, [SID])
    twilio.gone = True
    membership.forget(SID)
    assert _cached(membership.contacts, "alice") is None
    assert _cached(membership.contacts, "bob") is None


def test_redis_contacts_are_shared_by_every_process_and_expire(
    redis_client: RedisClient,
) -> None:
    client = redis_client
    one, two = RedisContacts(client), RedisContacts(client, ttl=1)
    _put(one, "alice", {"bob", "carol"}, [SID])
    assert _cached(two, "alice") == {"bob", "carol"}  # another worker, or after a deploy
    _put(two, "zoe", {"yan"}, [OTHER])
    ttl = client.ttl("parley:contacts:of:{zoe}" if is_cluster(client) else "parley:contacts:of:zoe")
    assert 0 < ttl <= 1
    two.drop(SID, [])
    assert _cached(one, "alice") is None


def test_contacts_computed_across_a_change_are_not_kept(
    cache: tuple[Twilio, MembershipCache],
) -> None:
    twilio, membership = cache
    cached, generation = membership.contacts.get("carol")
    assert cached is None  # carol's lookup starts: Twilio says she shares nothing ...
    twilio.members = _people("alice", "bob", "carol")
    membership.forget(SID)  # ... while she is added to SID
    membership.contacts.put("carol", set(), [], generation)  # the stale result
    assert _cached(membership.contacts, "carol") is None  # not kept: computed again next time


def test_memory_contacts_expire() -> None:
    contacts = MemoryContacts(ttl=0)
    _put(contacts, "alice", {"bob"}, [SID])
    assert _cached(contacts, "alice") is None


def test_changes_are_coalesced_to_the_latest_state_per_user() -> None:
    changes = Changes()
    changes.put("alice", True)
    changes.put("bob", True)
    changes.put("alice", False)  # alice left before her arrival was announced
    changes.put("alice", True)
    assert changes.get(0) == ("alice", True)  # once, in her first place, latest state
    assert changes.get(0) == ("bob", True)
    with pytest.raises(queue.Empty):
        changes.get(0)
    changes.put("alice", False)  # announced already: a new change is queued again
    assert changes.get(0) == ("alice", False)


def test_contacts_are_everyone_sharing_a_small_enough_conversation_looked_up_once() -> None:
    crowd = [f"user{n}" for n in range(PRESENCE_MAX_GROUP)]  # with alice: one too many
    members = {SID: _people("alice", "bob"), OTHER: _people("alice", *crowd)}
    lookups: list[str] = []

    def conversations_of(identity: str) -> list[ConversationRecord]:
        lookups.append(identity)
        now = datetime.now(UTC)
        return [ConversationRecord(sid, None, None, {}, now, now) for sid in members]

    contacts = Contacts(MemoryContacts(), conversations_of, lambda sid: members[sid])
    assert contacts.of("alice") == {"bob"}  # not herself, not the crowd of a large group
    assert contacts.of("alice") == {"bob"}
    assert lookups == ["alice"]  # the second answer came from the cache
