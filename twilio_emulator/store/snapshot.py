"""The whole store as plain JSON-able data, and back: what persistence saves and reloads.

One snapshot holds every record (dataclasses turned into dicts, datetimes into ISO strings)
plus the sequence counter. Indexes derived from records (unique names, SMS number pairs) are
rebuilt on restore rather than saved, so they can never disagree with the records.
"""

from __future__ import annotations

import types
from dataclasses import fields, is_dataclass
from datetime import datetime
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

from twilio_emulator.records import (
    AccountConfig,
    Conversation,
    ConversationWebhook,
    DeliveryReceipt,
    Media,
    Message,
    OutboundSms,
    Participant,
    Service,
    User,
)
from twilio_emulator.store.base import StoreBase, pair

FORMAT = 1
T = TypeVar("T")


class SnapshotOperations(StoreBase):
    """`snapshot()` and `restore()`; both take the lock."""

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "format": FORMAT,
                "seq": self._seq,
                "services": [_encode(s) for s in self._services.values()],
                "account": _encode(self._account),
                "conversations": [_encode(c) for c in self._conversations.values()],
                "participants": [
                    _encode(p) for ps in self._participants.values() for p in ps.values()
                ],
                "messages": [_encode(m) for ms in self._messages.values() for m in ms.values()],
                "webhooks": [
                    _encode(h) for hs in self._conversation_webhooks.values() for h in hs.values()
                ],
                "users": [_encode(u) for u in self._users.values()],
                "outbox": [_encode(o) for o in self._outbox],
                "media": [_encode(m) for m in self._media.values()],
                "receipts": [_encode(r) for rs in self._receipts.values() for r in rs],
                "failing_numbers": dict(self._failing_numbers),
            }

    def restore(self, data: dict[str, Any], *, keep_post_webhook_url: bool = False) -> None:
        """Replace the store's contents with a snapshot. With `keep_post_webhook_url`, the
        service's post-event URL from the current settings wins over the saved one."""
        if data.get("format") != FORMAT:
            raise ValueError(f"Unknown emulator snapshot format: {data.get('format')!r}")
        services = {s.sid: s for s in _decode_all(Service, data["services"])}
        default = self._default_service_sid
        if default not in services:
            raise ValueError(
                f"The saved emulator state belongs to service {', '.join(services)}, not {default}"
            )
        with self._mutation():
            if keep_post_webhook_url:
                services[default].webhooks.post_webhook_url = self._services[
                    default
                ].webhooks.post_webhook_url
            self._services = services  # the default one and any created since
            self._seq = int(data["seq"])
            self._account = _decode(AccountConfig, data["account"])
            self._conversations = {
                c.sid: c for c in _decode_all(Conversation, data["conversations"])
            }
            self._participants = {sid: {} for sid in self._conversations}
            self._messages = {sid: {} for sid in self._conversations}
            self._conversation_webhooks = {sid: {} for sid in self._conversations}
            for part in _decode_all(Participant, data["participants"]):
                self._participants[part.conversation_sid][part.sid] = part
            for msg in _decode_all(Message, data["messages"]):
                self._messages[msg.conversation_sid][msg.sid] = msg
            for hook in _decode_all(ConversationWebhook, data["webhooks"]):
                self._conversation_webhooks[hook.conversation_sid][hook.sid] = hook
            self._users = {u.sid: u for u in _decode_all(User, data["users"])}
            self._outbox = _decode_all(OutboundSms, data["outbox"])
            self._media = {m.sid: m for m in _decode_all(Media, data.get("media", []))}
            self._receipts = {}
            for receipt in _decode_all(DeliveryReceipt, data.get("receipts", [])):
                self._receipts.setdefault(receipt.message_sid, []).append(receipt)
            self._failing_numbers = dict(data.get("failing_numbers", {}))
            self._rebuild_indexes()

    def _rebuild_indexes(self) -> None:
        self._unique_names = {
            (c.service_sid, c.unique_name): c.sid
            for c in self._conversations.values()
            if c.unique_name
        }
        self._bindings = {
            pair(p.binding): p.sid
            for conv_sid, parts in self._participants.items()
            if self._conversations[conv_sid].state != "closed"
            for p in parts.values()
            if p.binding
        }


def _encode(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    return value


def _decode_all(cls: type[T], items: list[dict[str, Any]]) -> list[T]:
    return [_decode(cls, item) for item in items]


def _decode(cls: type[T], data: dict[str, Any]) -> T:
    """Rebuild a record dataclass, converting each field by its type hint."""
    hints = get_type_hints(cls)
    values = {name: _value(hints[name], raw) for name, raw in data.items() if name in hints}
    return cls(**values)


def _value(hint: Any, raw: Any) -> Any:
    if raw is None:
        return None
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        (inner,) = [arg for arg in get_args(hint) if arg is not type(None)]
        return _value(inner, raw)
    if hint is datetime:
        return datetime.fromisoformat(raw)
    if is_dataclass(hint) and isinstance(hint, type):
        return _decode(hint, raw)
    if origin is tuple:
        item = get_args(hint)[0] if get_args(hint) else None
        return tuple(_value(item, v) if item is not None else v for v in raw)
    return raw
