"""The store's shared state and lookups; each resource's operations live in a sibling module.

Every change happens under the one lock and, when the caller asked for webhooks (`source` is
set), publishes its event before the lock is released, so events reach the delivery queue in
the order the changes happened. Operations return copies, never live records.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace

from webapp.emulator import errors, sids
from webapp.emulator.events import Event
from webapp.emulator.records import (
    Binding,
    Conversation,
    Message,
    OutboundSms,
    Participant,
    Service,
    User,
    WebhookConfig,
    utcnow,
)
from webapp.emulator.settings import EmulatorSettings

Publish = Callable[[Event, WebhookConfig], None]


def missing() -> errors.TwilioError:
    """A 404 whose message the error handler fills in with the requested path."""
    return errors.TwilioError(404, errors.NOT_FOUND, "")


class StoreBase:
    """State, lock, and the lookups every resource's operations share."""

    def __init__(self, settings: EmulatorSettings, publish: Publish) -> None:
        self._publish = publish
        self._lock = threading.RLock()
        self._seq = 0
        webhooks = WebhookConfig(
            sid=sids.new_sid(sids.WEBHOOK),
            post_webhook_url=settings.post_webhook_url,
            filters=tuple(settings.post_webhook_filters),
        )
        service = Service(settings.service_sid, "Parley emulator", webhooks)
        self._services = {service.sid: service}
        self._conversations: dict[str, Conversation] = {}
        self._unique_names: dict[tuple[str, str], str] = {}
        self._participants: dict[str, dict[str, Participant]] = {}
        self._bindings: dict[tuple[str, str], str] = {}
        self._messages: dict[str, dict[str, Message]] = {}
        self._users: dict[str, User] = {}
        self._outbox: list[OutboundSms] = []

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _emit(self, event: Event) -> None:
        """Hand the event to the dispatcher with the service's webhook config of this moment;
        called under the lock, so events queue in the order their changes happened."""
        self._publish(event, replace(self._services[event.service_sid].webhooks))

    # -- services -------------------------------------------------------------------------

    def list_services(self) -> list[Service]:
        with self._lock:
            return [replace(s) for s in self._services.values()]

    def get_service(self, sid: str) -> Service:
        with self._lock:
            return replace(self._service(sid))

    def _service(self, sid: str) -> Service:
        service = self._services.get(sid)
        if service is None:
            raise missing()
        return service

    def get_webhooks(self, service_sid: str) -> WebhookConfig:
        with self._lock:
            return replace(self._service(service_sid).webhooks)

    def update_webhooks(
        self,
        service_sid: str,
        *,
        pre_webhook_url: str | None,
        post_webhook_url: str | None,
        filters: tuple[str, ...] | None,
        method: str | None,
    ) -> WebhookConfig:
        if method is not None and method.upper() not in ("GET", "POST"):
            raise errors.bad_request(errors.INVALID_PARAMETER, "Method must be GET or POST")
        with self._lock:
            config = self._service(service_sid).webhooks
            if pre_webhook_url is not None:
                config.pre_webhook_url = pre_webhook_url or None
            if post_webhook_url is not None:
                config.post_webhook_url = post_webhook_url or None
            if filters is not None:
                config.filters = filters
            if method is not None:
                config.method = method.upper()
            return replace(config)

    def _conversation(self, service_sid: str, ref: str) -> Conversation:
        """Find a conversation by SID or, as Twilio allows in the same path slot, unique name."""
        self._service(service_sid)
        sid = self._unique_names.get((service_sid, ref), ref)
        conv = self._conversations.get(sid)
        if conv is None or conv.service_sid != service_sid:
            raise missing()
        return conv

    def _participant(self, conv: Conversation, ref: str) -> Participant:
        """Find a participant by SID or by chat identity (Twilio accepts either)."""
        parts = self._participants[conv.sid]
        part = parts.get(ref) or next((p for p in parts.values() if p.identity == ref), None)
        if part is None:
            raise missing()
        return part

    def _release_binding(self, part: Participant) -> None:
        if part.binding and self._bindings.get(pair(part.binding)) == part.sid:
            del self._bindings[pair(part.binding)]

    def _message(self, conv: Conversation, sid: str) -> Message:
        msg = self._messages[conv.sid].get(sid)
        if msg is None:
            raise missing()
        return msg

    def _user_for(self, service_sid: str, identity: str) -> User:
        """The user behind a chat identity; Twilio creates one when a participant joins."""
        user = next((u for u in self._users.values() if u.identity == identity), None)
        if user is None:
            now = utcnow()
            user = User(
                sid=sids.new_sid(sids.USER),
                service_sid=service_sid,
                seq=self._next_seq(),
                identity=identity,
                friendly_name=None,
                attributes="{}",
                date_created=now,
                date_updated=now,
            )
            self._users[user.sid] = user
        return user

    def _user(self, service_sid: str, ref: str) -> User:
        self._service(service_sid)
        user = self._users.get(ref) or next(
            (u for u in self._users.values() if u.identity == ref), None
        )
        if user is None or user.service_sid != service_sid:
            raise missing()
        return user


def pair(binding: Binding) -> tuple[str, str]:
    """The (phone, Twilio number) pair inbound SMS are routed by; unique among open
    conversations."""
    return (binding.address, binding.proxy_address)


def pair_in_use(binding: Binding) -> errors.TwilioError:
    return errors.conflict(
        errors.BINDING_PAIR_IN_USE,
        f"A binding for this participant and proxy address already exists: "
        f"{binding.address} / {binding.proxy_address}",
    )
