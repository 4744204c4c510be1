"""Parley: real-time chat for Flask sites on top of Twilio Conversations, over SSE."""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

from flask import Flask, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.middleware.proxy_fix import ProxyFix

from webapp.api.typing_throttle import TypingThrottle
from webapp.auth.session_cookie import SessionCookieReader
from webapp.auth.session_users import SessionUsers
from webapp.config import EMULATOR_MOUNT_PATH, Config
from webapp.errors import json_error, refuse_unreadable_query, wants_json
from webapp.events.broker import Broker
from webapp.events.memory_broker import MemoryBroker
from webapp.events.published_index import PublishedIndex
from webapp.events.redis_broker import Frame, RedisBroker, connect
from webapp.events.redis_cluster import RedisClient, connect_cluster
from webapp.events.redis_cluster_broker import ClusterBroker
from webapp.extensions import csrf, db, limiter, login_manager, migrate
from webapp.json_input import StrictJSONProvider
from webapp.models import User
from webapp.names.resolver import NameResolver
from webapp.oidc import init_oidc
from webapp.ops import configure_logging, init_ops
from webapp.ops.health import RedisCheck, TwilioCheck
from webapp.ops.metrics import Metrics
from webapp.people.contacts import Contacts, ContactsCache, MemoryContacts, RedisContacts
from webapp.people.mutes import Mutes
from webapp.people.participants import (
    MembershipCache,
    MemoryMembershipCache,
    RedisMembershipCache,
)
from webapp.people.presence import MemoryPresence, Presence, RedisPresence
from webapp.people.presence_relay import PresenceRelay
from webapp.push import init_push
from webapp.push.dispatcher import PushDispatcher, RateLimit
from webapp.push.keys import load_vapid
from webapp.push.sender import PushSender
from webapp.security import init_security, response_headers
from webapp.services import Services, init_services
from webapp.sso import sso
from webapp.stream.admission import Admission, init_admission
from webapp.stream.fast_path import init_stream_fast_path
from webapp.stream.heartbeat import HeartbeatTicker
from webapp.stream.writer import StreamWriter
from webapp.twilio_gateway import ConversationsGateway
from webapp.twilio_gateway.client import build_client
from webapp.twilio_gateway.media import MediaGateway
from webapp.twilio_gateway.users import user_friendly_name
from webapp.webhooks.catchup import CatchUp
from webapp.webhooks.fast_path import init_fast_path

log = logging.getLogger("webapp")

#: Alembic's scripts (``flask --app wsgi db upgrade``), wherever the command runs from.
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def create_app(config: Config | None = None) -> Flask:
    """The application factory: config, extensions, outside systems, blueprints, CLI."""
    # The service SID may still be unset: `twilio setup` finds it; gunicorn refuses to serve.
    config = config or Config.from_env(require_service_sid=False)
    app = Flask(__name__, template_folder="../templates", static_folder="../static")
    app.config.from_object(config)
    app.json = StrictJSONProvider(app)  # request.get_json() refuses what would fail later
    configure_logging(config)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR))
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.user_loader(User.from_session_id)
    login_manager.unauthorized_handler(_unauthorized)
    app.register_error_handler(CSRFError, _csrf_failed)
    app.register_error_handler(HTTPException, _http_error)
    app.before_request(refuse_unreadable_query)
    services = _build_services(config)
    init_security(app, config, services.redis)  # the login limiter shares the Redis pool

    init_services(app, services)
    with app.app_context():
        services.session_users = SessionUsers(db.engine)
    _register_blueprints(app)
    init_push(app)
    services.push.bind(app)
    services.mutes.bind(app)
    sso.init_app(app)  # after the auth blueprint: it signs people in the same way
    init_oidc(app, config)  # "Sign in with …": through the same user hook as sso
    init_ops(app)
    _register_cli(app)
    _mount_emulator(app, config)
    # Signed-in streams open without Flask's request cycle (a deploy's reconnect wave).
    init_stream_fast_path(app, SessionCookieReader(app, services.session_users).session)
    # Stream openings past what the worker serves are turned away first.
    init_admission(app, services.admission, response_headers(config))
    init_fast_path(app)  # Twilio's webhooks skip Flask's request cycle (docs/benchmarks.md)
    if config.TRUST_PROXY:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1, x_port=1)  # type: ignore[method-assign]
    _announce(config)
    return app


def _build_services(config: Config) -> Services:
    """Every process-wide object, once; with ``REDIS_URL``, all of them on one Redis client."""
    gateway = ConversationsGateway(build_client(config), config.TWILIO_CONVERSATIONS_SERVICE_SID)
    client: RedisClient | None = None
    broker: Broker
    published: PublishedIndex
    membership: MembershipCache
    contacts_cache: ContactsCache
    presence: Presence
    if config.REDIS_URL:
        limits = {
            "max_events": config.PARLEY_LOG_MAX_EVENTS,
            "max_age": config.PARLEY_LOG_MAX_AGE_SECONDS,
            "once_seconds": config.PARLEY_WEBHOOK_DEDUPE_SECONDS,
        }
        redis_broker: RedisBroker
        if config.REDIS_CLUSTER:
            cluster = connect_cluster(config.REDIS_URL)
            client, redis_broker = cluster, ClusterBroker(cluster, config.REDIS_URL, **limits)
        else:
            single = connect(config.REDIS_URL)
            client, redis_broker = single, RedisBroker(single, config.REDIS_URL, **limits)
        broker = redis_broker
        published = redis_broker.marks
        contacts_cache = RedisContacts(client)
        membership = RedisMembershipCache(
            gateway.participants,
            client,
            bus=redis_broker.bus(Frame.MEMBERSHIP),
            contacts=contacts_cache,
        )
        presence = RedisPresence(client)
    else:
        memory_broker = broker = MemoryBroker(
            max_age=config.PARLEY_LOG_MAX_AGE_SECONDS,
            max_events=config.PARLEY_LOG_MAX_EVENTS,
            once_seconds=config.PARLEY_WEBHOOK_DEDUPE_SECONDS,
        )
        published = memory_broker.marks
        contacts_cache = MemoryContacts()
        membership = MemoryMembershipCache(gateway.participants, contacts=contacts_cache)
        presence = MemoryPresence()
    contacts = Contacts(contacts_cache, gateway.conversations_of, membership.participants)
    metrics = Metrics()
    if config.REDIS_URL:
        redis_broker.report_received = metrics.pubsub_received
    mutes = Mutes()
    names = NameResolver(partial(user_friendly_name, gateway))
    services = Services(
        config=config,
        redis=client,
        gateway=gateway,
        broker=broker,
        published=published,
        membership=membership,
        contacts=contacts,
        presence=presence,
        presence_relay=PresenceRelay(presence, contacts, broker),
        names=names,
        media=MediaGateway(config),
        metrics=metrics,
        stream_writer=StreamWriter(metrics, broker.backlog),
        heartbeats=HeartbeatTicker(metrics),
        admission=Admission(config.STREAM_OPENINGS_IN_FLIGHT),
        typing=TypingThrottle(),
        mutes=mutes,
        twilio_check=TwilioCheck(config),
        redis_check=(
            RedisCheck(config.REDIS_URL, config.REDIS_CLUSTER) if config.REDIS_URL else None
        ),
        push=PushDispatcher(
            _push_sender(config),
            presence,
            names,
            RateLimit(client),
            should_push=lambda identity, sid: not mutes.is_muted(identity, sid),
        ),
    )
    services.catch_up = CatchUp(services)
    broker.on_reconnect(services.catch_up.reconcile_recent)  # webhooks may have failed meanwhile
    return services


def _push_sender(config: Config) -> PushSender | None:
    """The Web Push sender, when VAPID keys are configured (refused when they are no pair)."""
    if not config.PARLEY_VAPID_PUBLIC_KEY or not config.PARLEY_VAPID_PRIVATE_KEY:
        return None
    vapid = load_vapid(config.PARLEY_VAPID_PUBLIC_KEY, config.PARLEY_VAPID_PRIVATE_KEY)
    return PushSender(vapid, config.PARLEY_VAPID_SUBJECT or config.PUBLIC_BASE_URL)


def _register_blueprints(app: Flask) -> None:
    from webapp import api, auth, chat, stream, webhooks

    app.register_blueprint(auth.bp)
    app.register_blueprint(chat.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(stream.bp)
    app.register_blueprint(webhooks.bp)
    csrf.exempt(webhooks.bp)  # Twilio signs its requests instead
    limiter.exempt(webhooks.bp)  # limits are for people logging in, not for Twilio
    limiter.exempt(stream.bp)


def _register_cli(app: Flask) -> None:
    from webapp.cli import emulator_cli, init_db_command, media_cli, twilio_cli, users_cli
    from webapp.push.cli import push_cli

    app.cli.add_command(users_cli)
    app.cli.add_command(init_db_command)
    app.cli.add_command(twilio_cli)
    app.cli.add_command(media_cli)
    app.cli.add_command(emulator_cli)
    app.cli.add_command(push_cli)


def _mount_emulator(app: Flask, config: Config) -> None:
    """With no Twilio account and no standalone emulator, serve one inside this server."""
    if not config.emulator_in_process:
        return
    from twilio_emulator import EmulatorSettings, create_emulator_app
    from webapp.webhooks.translate import SUBSCRIBED_EVENTS

    emulator = create_emulator_app(
        EmulatorSettings(
            auth_token=config.TWILIO_AUTH_TOKEN,
            post_webhook_url=config.webhook_url,
            post_webhook_filters=SUBSCRIBED_EVENTS,  # as `twilio setup` asks of Twilio
            persist_path=config.TWILIO_EMULATOR_PERSIST,
        )
    )
    app.wsgi_app = DispatcherMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, {EMULATOR_MOUNT_PATH: emulator}
    )


def _unauthorized() -> ResponseReturnValue:
    if wants_json(request.path):
        return json_error(401, "unauthorized", "Log in first.")
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def _http_error(error: HTTPException) -> ResponseReturnValue:
    """JSON errors for script clients even when no route matched (the API blueprint's own
    handler only sees requests that reached it); the usual pages for people."""
    if not wants_json(request.path) or (error.code or 500) < 400:
        return error  # pages, and redirects (e.g. a missing trailing slash)
    code = (error.name or "error").lower().replace(" ", "_")
    return json_error(error.code or 500, code, error.description or error.name)


def _csrf_failed(error: CSRFError) -> ResponseReturnValue:
    if wants_json(request.path):
        return json_error(400, "csrf_failed", "The CSRF token is missing or invalid; reload.")
    flash("Your session expired; please try again.", "error")
    return redirect(request.full_path.rstrip("?"))


def _announce(config: Config) -> None:
    twilio = (
        "live Twilio"
        if config.LIVE_TWILIO
        else f"the local Twilio emulator at {config.emulator_origin}"
        + (" (in-process)" if config.emulator_in_process else "")
    )
    broker = "Redis" if config.REDIS_URL else "the in-process broker (one process only)"
    log.info("Parley uses %s and %s; webhooks go to %s", twilio, broker, config.webhook_url)


__all__ = ["create_app"]
