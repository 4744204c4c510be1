"""The store's shared state and lookups; each resource's operations live in a sibling module.

Every change happens inside `_mutation()` (the one lock) and, when the caller asked for
webhooks (`source` is set), publishes its post-event before the lock is released, so events
reach the delivery queue in the order the changes happened. With persistence on, the outermost
`_mutation()` saves a snapshot before releasing the lock. Pre-events are screened before the
lock is taken (`_screen`): the receiver may take up to the webhook timeout to answer, and
nobody else should wait for it. Operations return copies, never live records.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Protocol, TypeVar

from twilio_emulator import errors, sids
from twilio_emulator.events import Event, apply_changes
from twilio_emulator.records import (
    AccountConfig,
    Binding,
    Conversation,
    ConversationWebhook,
    DeliveryReceipt,
    Media,
    Message,
    OutboundSms,
    Participant,
    Service,
    User,
    WebhookConfig,
    utcnow,
)
from twilio_emulator.settings import EmulatorSettings
from twilio_emulator.webhooks import Target, Verdict

R = TypeVar("R", Conversation, Message, Participant, User)


class Hooks(Protocol):
    """What the store needs from webhook delivery (`WebhookDispatcher` in production)."""

    def publish(self, event: Event, targets: Sequence[Target]) -> None: ...

    def screen(self, event: Event, target: Target) -> Verdict: ...


def missing() -> errors.TwilioError:
    """A 404 whose message the error handler fills in with the requested path."""
    return errors.TwilioError(404, errors.NOT_FOUND, "")


class StoreBase:
    """State, lock, and the lookups every resource's operations share."""

    def __init__(self, settings: EmulatorSettings, hooks: Hooks) -> None:
        self._hooks = hooks
        #: Called, under the lock, after each completed change (persistence sets it).
        self.on_change: Callable[[], None] | None = None
        self._lock = threading.RLock()
        self._depth = 0
        self._seq = 0
        webhooks = WebhookConfig(
            sid=sids.new_sid(sids.WEBHOOK),
            post_webhook_url=settings.post_webhook_url,
            filters=tuple(settings.post_webhook_filters),
        )
        service = Service(settings.service_sid, "Parley emulator", webhooks)
        #: The service of the default path form (`/v1/Conversations`); never deleted.
        self._default_service_sid = service.sid
        self._services = {service.sid: service}
        self._account = AccountConfig(
            default_chat_service_sid=service.sid,
            webhooks=WebhookConfig(sid=sids.new_sid(sids.WEBHOOK)),
        )
        self._conversations: dict[str, Conversation] = {}
        self._unique_names: dict[tuple[str, str], str] = {}
        self._participants: dict[str, dict[str, Participant]] = {}
        self._bindings: dict[tuple[str, str], str] = {}
        self._messages: dict[str, dict[str, Message]] = {}
        self._conversation_webhooks: dict[str, dict[str, ConversationWebhook]] = {}
        self._users: dict[str, User] = {}
        self._outbox: list[OutboundSms] = []
        self._media: dict[str, Media] = {}
        #: Delivery receipts by message SID, in the order they were made.
        self._receipts: dict[str, list[DeliveryReceipt]] = {}
        #: Phone numbers made to fail (`/_dev/sms-fail`), with the error code they fail with.
        self._failing_numbers: dict[str, int] = {}

    @contextmanager
    def _mutation(self) -> Iterator[None]:
        """Hold the lock for a change; when the outermost change completes, persist."""
        with self._lock:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            if self._depth == 0 and self.on_change is not None:
                self.on_change()

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _webhooks_for(self, service_sid: str) -> WebhookConfig:
        """The webhook configuration in force for a service: its own if it has any URL set,
        else the account's global one (Twilio: service-level hooks override global ones).
        An unknown (or just deleted) service is a 404, like every other lookup."""
        own = self._service(service_sid).webhooks
        return own if own.configured else self._account.webhooks

    def _emit(self, event: Event) -> None:
        """Hand a post-event to the dispatcher with every target subscribed to it at this
        moment; called under the lock, so events queue in the order their changes happened."""
        config = self._webhooks_for(event.service_sid)
        targets = []
        if config.post_webhook_url and event.type in config.filters:
            targets.append(Target(config.post_webhook_url, config.method, config.sid))
        scoped = self._conversation_webhooks.get(event.conversation_sid or "", {})
        for hook in sorted(scoped.values(), key=lambda h: h.seq):
            if hook.target == "webhook" and hook.url and event.type in hook.filters:
                targets.append(Target(hook.url, hook.method.upper(), hook.sid))
        if targets:
            self._hooks.publish(event, targets)

    def _screen(self, event: Event, record: R) -> R:
        """Ask the pre-event webhook about a change before it is made; return the record as
        the answer modified it, or raise if the answer rejected it. Call without the lock."""
        with self._lock:
            config = replace(self._webhooks_for(event.service_sid))
        if not config.pre_webhook_url or event.type not in config.filters:
            return record
        verdict = self._hooks.screen(
            event, Target(config.pre_webhook_url, config.method, config.sid)
        )
        if not verdict.allowed:
            raise errors.TwilioError(
                403,
                errors.PRE_EVENT_REJECTED,
                f"{event.type} was rejected by the pre-event webhook (HTTP {verdict.status})",
            )
        return apply_changes(record, event.type, verdict.changes)

    def _service(self, sid: str) -> Service:
        service = self._services.get(sid)
        if service is None:
            raise missing()
        return service

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

    def _drop_messages(self, conversation_sid: str, *message_sids: str) -> None:
        """Forget these messages of a conversation (all of them, and the conversation's
        message table, when none are named), with their delivery receipts."""
        if message_sids:
            messages = self._messages[conversation_sid]
            for sid in message_sids:
                messages.pop(sid, None)
        else:
            message_sids = tuple(self._messages.pop(conversation_sid))
        for sid in message_sids:
            self._receipts.pop(sid, None)

    def _message(self, conv: Conversation, sid: str) -> Message:
        msg = self._messages[conv.sid].get(sid)
        if msg is None:
            raise missing()
        return msg

    def _user_for(self, service_sid: str, identity: str) -> User:
        """The user behind a chat identity; Twilio creates one when a participant joins."""
        user = self._user_by_identity(service_sid, identity)
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
        user = self._users.get(ref) or self._user_by_identity(service_sid, ref)
        if user is None or user.service_sid != service_sid:
            raise missing()
        return user

    def _user_by_identity(self, service_sid: str, identity: str) -> User | None:
        """Identities are unique per service; each service has its own users."""
        return next(
            (
                u
                for u in self._users.values()
                if u.identity == identity and u.service_sid == service_sid
            ),
            None,
        )


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
