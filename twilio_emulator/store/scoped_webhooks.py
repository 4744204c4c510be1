"""Conversation-scoped webhooks (`/Conversations/{sid}/Webhooks`): create, fetch, list,
update, delete, with the error codes Twilio documents for them (50360-50372).

A `webhook` target receives the conversation's post-events named in its filters, alongside
the service-level webhook (see `StoreBase._emit`). `trigger` (keywords) and `studio` (a Studio
flow) targets are validated and stored, but nothing is delivered to them. Twilio allows five
per conversation; they go when their conversation goes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from twilio_emulator import errors, sids
from twilio_emulator.records import Conversation, ConversationWebhook, utcnow
from twilio_emulator.store.base import StoreBase

TARGETS = ("webhook", "trigger", "studio")
METHODS = ("get", "post")
#: Post-action events only: Twilio offers no pre-action hooks per conversation.
FILTERS = (
    "onMessageAdded",
    "onMessageUpdated",
    "onMessageRemoved",
    "onConversationUpdated",
    "onConversationRemoved",
    "onConversationStateUpdated",
    "onParticipantAdded",
    "onParticipantUpdated",
    "onParticipantRemoved",
    "onDeliveryUpdated",
)
MAX_PER_CONVERSATION = 5
MAX_TRIGGERS = 5
MAX_TRIGGER_CHARS = 248
MAX_URL_CHARS = 512


@dataclass(frozen=True)
class WebhookSpec:
    """The `Configuration.*` parameters of a request; None means 'not sent'."""

    url: str | None = None
    method: str | None = None
    filters: tuple[str, ...] | None = None
    triggers: tuple[str, ...] | None = None
    flow_sid: str | None = None


class ScopedWebhookOperations(StoreBase):
    """At most five webhooks per conversation; each belongs to exactly one."""

    def create_conversation_webhook(
        self, service_sid: str, conversation: str, *, target: str | None, spec: WebhookSpec
    ) -> ConversationWebhook:
        if not target:
            raise errors.bad_request(errors.WEBHOOK_TARGET_MISSING, "Target is required")
        if target not in TARGETS:
            raise errors.bad_request(
                errors.INVALID_WEBHOOK_TARGET, f"Target must be one of {', '.join(TARGETS)}"
            )
        _check(spec)
        now = utcnow()
        with self._mutation():
            conv = self._conversation(service_sid, conversation)
            hooks = self._conversation_webhooks[conv.sid]
            if len(hooks) >= MAX_PER_CONVERSATION:
                raise errors.bad_request(
                    errors.TOO_MANY_WEBHOOKS, "Too many conversation webhooks (at most 5)"
                )
            hook = ConversationWebhook(
                sid=sids.new_sid(sids.WEBHOOK),
                service_sid=service_sid,
                conversation_sid=conv.sid,
                seq=self._next_seq(),
                target=target,
                url=spec.url,
                method=(spec.method or "post").lower(),
                filters=spec.filters or (),
                triggers=spec.triggers or (),
                flow_sid=spec.flow_sid,
                date_created=now,
                date_updated=now,
            )
            _check_complete(hook)
            hooks[hook.sid] = hook
            return replace(hook)

    def get_conversation_webhook(
        self, service_sid: str, conversation: str, sid: str
    ) -> ConversationWebhook:
        with self._lock:
            conv = self._conversation(service_sid, conversation)
            return replace(self._scoped_webhook(conv, sid))

    def list_conversation_webhooks(
        self, service_sid: str, conversation: str
    ) -> list[ConversationWebhook]:
        with self._lock:
            conv = self._conversation(service_sid, conversation)
            found = [replace(h) for h in self._conversation_webhooks[conv.sid].values()]
        return sorted(found, key=lambda h: h.seq)

    def update_conversation_webhook(
        self, service_sid: str, conversation: str, sid: str, *, spec: WebhookSpec
    ) -> ConversationWebhook:
        _check(spec)
        with self._mutation():
            conv = self._conversation(service_sid, conversation)
            hook = self._scoped_webhook(conv, sid)
            updated = replace(
                hook,
                url=spec.url if spec.url is not None else hook.url,
                method=spec.method.lower() if spec.method else hook.method,
                filters=spec.filters if spec.filters is not None else hook.filters,
                triggers=spec.triggers if spec.triggers is not None else hook.triggers,
                flow_sid=spec.flow_sid or hook.flow_sid,
                date_updated=utcnow(),
            )
            _check_complete(updated)
            self._conversation_webhooks[conv.sid][sid] = updated
            return replace(updated)

    def delete_conversation_webhook(self, service_sid: str, conversation: str, sid: str) -> None:
        with self._mutation():
            conv = self._conversation(service_sid, conversation)
            del self._conversation_webhooks[conv.sid][self._scoped_webhook(conv, sid).sid]

    def _scoped_webhook(self, conv: Conversation, sid: str) -> ConversationWebhook:
        if not sids.looks_like(sids.WEBHOOK, sid):
            raise errors.bad_request(errors.INVALID_WEBHOOK_SID, f"Invalid webhook SID: {sid}")
        hook = self._conversation_webhooks[conv.sid].get(sid)
        if hook is None:
            raise errors.TwilioError(
                404, errors.WEBHOOK_NOT_FOUND, f"Conversation webhook not found: {sid}"
            )
        return hook


def _check(spec: WebhookSpec) -> None:
    """Validate each parameter that was sent, on its own."""
    if spec.method is not None and spec.method.lower() not in METHODS:
        raise errors.bad_request(
            errors.INVALID_PARAMETER, "Configuration.Method must be GET or POST"
        )
    if spec.url is not None and len(spec.url) > MAX_URL_CHARS:
        raise errors.bad_request(
            errors.WEBHOOK_URL_TOO_LONG, f"Configuration.Url exceeds {MAX_URL_CHARS} characters"
        )
    for name in spec.filters or ():
        if name not in FILTERS:
            raise errors.bad_request(
                errors.INVALID_WEBHOOK_FILTER, f"Invalid conversation webhook filter: {name}"
            )
    if spec.triggers is not None and len(spec.triggers) > MAX_TRIGGERS:
        raise errors.bad_request(
            errors.TOO_MANY_WEBHOOK_TRIGGERS, f"At most {MAX_TRIGGERS} trigger keywords"
        )
    for keyword in spec.triggers or ():
        if not keyword or len(keyword) > MAX_TRIGGER_CHARS:
            raise errors.bad_request(
                errors.INVALID_WEBHOOK_TRIGGER, f"Invalid trigger keyword: {keyword!r}"
            )
    if spec.flow_sid is not None and not sids.looks_like("FW", spec.flow_sid):
        raise errors.bad_request(errors.INVALID_PARAMETER, "Invalid Configuration.FlowSid")


def _check_complete(hook: ConversationWebhook) -> None:
    """What each target needs to work: a URL and filters, a URL and keywords, or a flow."""
    if hook.target in ("webhook", "trigger") and not hook.url:
        raise errors.bad_request(errors.WEBHOOK_URL_MISSING, "Configuration.Url is required")
    if hook.target == "webhook" and not hook.filters:
        raise errors.bad_request(
            errors.WEBHOOK_FILTERS_MISSING, "Configuration.Filters is required"
        )
    if hook.target == "trigger" and not hook.triggers:
        raise errors.bad_request(
            errors.WEBHOOK_TRIGGERS_MISSING, "Configuration.Triggers is required"
        )
    if hook.target == "studio" and not hook.flow_sid:
        raise errors.bad_request(errors.INVALID_PARAMETER, "Configuration.FlowSid is required")
