"""The one home of an app's process-wide objects: built once by ``create_app``, kept in
``app.extensions["parley"]``, reached with :func:`get_services` (or handed down)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flask import Flask, current_app

# For the type checker only, so no layer imports another through this home: every area
# reaches it, and it holds objects of every area.
if TYPE_CHECKING:
    from webapp.api.typing_throttle import TypingThrottle
    from webapp.auth.session_users import SessionUsers
    from webapp.config import Config
    from webapp.events.broker import Broker
    from webapp.events.published_index import PublishedIndex
    from webapp.events.redis_cluster import RedisClient
    from webapp.names.resolver import NameResolver
    from webapp.ops.health import RedisCheck, TwilioCheck
    from webapp.ops.metrics import Metrics
    from webapp.people.contacts import Contacts
    from webapp.people.mutes import Mutes
    from webapp.people.participants import MembershipCache
    from webapp.people.presence import Presence
    from webapp.people.presence_relay import PresenceRelay
    from webapp.push.dispatcher import PushDispatcher
    from webapp.sso import SsoState
    from webapp.stream.admission import Admission
    from webapp.stream.heartbeat import HeartbeatTicker
    from webapp.stream.writer import StreamWriter
    from webapp.twilio_gateway import ConversationsGateway
    from webapp.twilio_gateway.media import MediaGateway
    from webapp.webhooks.catchup import CatchUp


@dataclass
class Services:
    """Every object one app's process shares: made once, so that none is made on first use
    and each outside system (Redis, Twilio) is reached through one client."""

    config: Config
    #: The process's one Redis command client (a small pool) that every Redis user shares;
    #: None with the in-process broker.
    redis: RedisClient | None
    gateway: ConversationsGateway
    broker: Broker
    #: Marks of what was published per conversation, beside the broker's de-duplication keys.
    published: PublishedIndex
    membership: MembershipCache
    contacts: Contacts
    presence: Presence
    presence_relay: PresenceRelay
    #: Display names for identities (Parley's users, then Twilio's User resource).
    names: NameResolver
    #: Photos and files, in Twilio's Media Content Service (the same config as the gateway).
    media: MediaGateway
    metrics: Metrics
    #: Streams past their first bytes, written by one writer and woken by one ticker.
    stream_writer: StreamWriter
    heartbeats: HeartbeatTicker
    admission: Admission
    typing: TypingThrottle
    #: Conversations users muted (no notifications or pushes from them).
    mutes: Mutes
    twilio_check: TwilioCheck
    redis_check: RedisCheck | None
    #: Web Push for people with no stream open (``webapp.push``); sends nothing without keys.
    push: PushDispatcher
    #: Publishes messages whose webhooks never arrived (``webapp.webhooks.catchup``); it is
    #: handed these services, so it is added once they exist.
    catch_up: CatchUp = field(init=False)
    #: Whose a session cookie is, for a few seconds (the stream's lean path asks it); made
    #: once the database is bound.
    session_users: SessionUsers = field(init=False)
    #: Sign-in handed over by a host site: the user hook and token rules belong to the
    #: ``sso`` extension, so ``sso.init_app`` adds them.
    sso: SsoState = field(init=False)


def init_services(app: Flask, services: Services) -> None:
    app.extensions["parley"] = services


def get_services(app: Flask | None = None) -> Services:
    """``app``'s services; without ``app``, the current app's (in a request or app context)."""
    services: Services = (app or current_app).extensions["parley"]
    return services
