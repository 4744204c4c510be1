"""Who was last known to be in a conversation outlives its cached participant list, in memory
and in real Redis: a removal Twilio announces once it answers 404 for the conversation still
goes to those members, however long after the list expired."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.support.servers import RedisServer
from tests.unit import test_contacts_cache
from tests.unit.test_contacts_cache import SID, Twilio, _people
from webapp import create_app
from webapp.config import Config
from webapp.events.broker import BrokerUnavailable
from webapp.events.redis_broker import connect
from webapp.events.redis_cluster import RedisClient
from webapp.extensions import db
from webapp.people.participants import (
    LAST_KNOWN_TTL,
    MembershipCache,
    MemoryLastKnown,
    RedisMembershipCache,
)
from webapp.services import Services
from webapp.webhooks.translate import TRANSLATORS

#: The contacts tests' memory and Redis caches, over a Twilio whose conversation can be gone.
cache = test_contacts_cache.cache


def _services(membership: MembershipCache) -> Services:
    """Parley's services around ``membership`` (the removal translators use nothing else but
    the mutes, which a removal drops: hence the tables)."""
    config = Config.from_env(
        {"SECRET_KEY": "k", "DATABASE_URL": "sqlite://", "TWILIO_AUTH_TOKEN": "t"},
        require_service_sid=False,
    )
    app = create_app(config)
    with app.app_context():
        db.create_all()
    services: Services = app.extensions["parley"]
    return replace(services, membership=membership)


def test_a_deletion_after_the_list_expired_goes_to_the_last_known_members(
    cache: tuple[Twilio, MembershipCache],
) -> None:
    twilio, membership = cache
    membership.participants(SID)
    twilio.gone = True  # deleted in Twilio ...
    membership.forget(SID)  # ... after the cached list went (as its TTL would drop it)
    services = _services(membership)

    removed = TRANSLATORS["onConversationRemoved"](services, {"ConversationSid": SID})
    assert [sorted(out.recipients) for out in removed] == [["alice", "bob"]]
    left = TRANSLATORS["onParticipantRemoved"](
        services, {"ConversationSid": SID, "ParticipantSid": "MB" + "1" * 32, "Identity": "bob"}
    )
    assert [sorted(out.recipients) for out in left] == [["alice", "bob"]]  # bob once


def test_the_last_known_members_follow_participant_changes(
    cache: tuple[Twilio, MembershipCache],
) -> None:
    twilio, membership = cache
    assert membership.last_known_members(SID) == []  # never looked up: nobody to tell
    membership.participants(SID)
    twilio.members = _people("alice", "carol")
    membership.forget(SID)  # a participant webhook
    twilio.gone = True
    membership.forget(SID)
    assert sorted(membership.last_known_members(SID)) == ["alice", "carol"]


def test_in_redis_they_live_as_long_as_the_event_log(redis_client: RedisClient) -> None:
    client = redis_client
    RedisMembershipCache(Twilio().participants, client).participants(SID)
    assert LAST_KNOWN_TTL - 60 < client.ttl(f"parley:lastmembers:{SID}") <= LAST_KNOWN_TTL


def test_redis_down_is_a_retry_not_nobody(private_redis: RedisServer) -> None:
    membership = RedisMembershipCache(Twilio().participants, connect(private_redis.url))
    membership.participants(SID)
    private_redis.stop()
    with pytest.raises(BrokerUnavailable):
        membership.last_known_members(SID)


def test_in_memory_they_are_bounded_and_expire() -> None:
    kept = MemoryLastKnown(limit=2)
    kept.remember("a", ["alice"])
    kept.remember("b", ["bob"])
    kept.remember("a", ["alice", "carol"])  # refreshed: now the newest
    kept.remember("c", ["carol"])
    assert (kept.members("a"), kept.members("b"), kept.members("c")) == (
        ["alice", "carol"],
        [],
        ["carol"],
    )
    expired = MemoryLastKnown(ttl=0)
    expired.remember("a", ["alice"])
    assert expired.members("a") == []
