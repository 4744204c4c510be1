"""Conversation operations: create, fetch by SID or unique name, list, update, delete."""

from __future__ import annotations

from dataclasses import replace

from twilio_emulator import errors, limits, sids
from twilio_emulator.events import (
    ADD,
    ADDED,
    REMOVE,
    REMOVED,
    UPDATE,
    UPDATED,
    conversation_event,
)
from twilio_emulator.records import Conversation, ConversationOptions, Dates, utcnow
from twilio_emulator.store.base import StoreBase, pair, pair_in_use

STATES = ("active", "inactive", "closed")


class ConversationOperations(StoreBase):
    """Unique names are unique per service and share the SID's path slot."""

    def create_conversation(
        self,
        service_sid: str,
        *,
        friendly_name: str | None,
        unique_name: str | None,
        attributes: str | None,
        state: str | None,
        source: str | None,
        options: ConversationOptions | None = None,
        dates: Dates | None = None,
    ) -> Conversation:
        limits.friendly_name(friendly_name)
        limits.unique_name(unique_name)
        limits.attributes(attributes, limits.CONVERSATION_ATTRIBUTES_BYTES)
        _check_state(state)
        now = utcnow()
        conv = Conversation(
            sid=sids.new_sid(sids.CONVERSATION),
            service_sid=service_sid,
            seq=0,
            friendly_name=friendly_name,
            unique_name=unique_name or None,
            attributes=attributes or "{}",
            state=state or "active",
            date_created=now,
            date_updated=now,
        )
        (options or ConversationOptions()).apply(conv, now)
        (dates or Dates()).stamp(conv)
        if source:
            conv = self._screen(conversation_event(ADD, conv, source, now), conv)
        limits.friendly_name(conv.friendly_name)
        with self._mutation():
            self._service(service_sid)
            if conv.unique_name and (service_sid, conv.unique_name) in self._unique_names:
                raise _unique_name_taken(conv.unique_name)
            conv.seq = self._next_seq()
            self._conversations[conv.sid] = conv
            self._participants[conv.sid] = {}
            self._messages[conv.sid] = {}
            self._conversation_webhooks[conv.sid] = {}
            if conv.unique_name:
                self._unique_names[(service_sid, conv.unique_name)] = conv.sid
            if source:
                self._emit(conversation_event(ADDED, conv, source, now))
            return replace(conv)

    def get_conversation(self, service_sid: str, ref: str) -> Conversation:
        with self._lock:
            return replace(self._conversation(service_sid, ref))

    def list_conversations(self, service_sid: str, state: str | None) -> list[Conversation]:
        _check_state(state)
        with self._lock:
            self._service(service_sid)
            found = [
                replace(c)
                for c in self._conversations.values()
                if c.service_sid == service_sid and (state is None or c.state == state)
            ]
        return sorted(found, key=lambda c: c.seq)

    def update_conversation(
        self,
        service_sid: str,
        ref: str,
        *,
        friendly_name: str | None,
        unique_name: str | None,
        attributes: str | None,
        state: str | None,
        source: str | None,
        options: ConversationOptions | None = None,
        dates: Dates | None = None,
    ) -> Conversation:
        limits.friendly_name(friendly_name)
        limits.unique_name(unique_name)
        limits.attributes(attributes, limits.CONVERSATION_ATTRIBUTES_BYTES)
        _check_state(state)
        if source:
            friendly_name = self._screen_update(
                service_sid, ref, friendly_name, unique_name, attributes, state, source
            )
        limits.friendly_name(friendly_name)
        with self._mutation():
            conv = self._conversation(service_sid, ref)
            if unique_name is not None and unique_name != conv.unique_name:
                self._rename(conv, unique_name)
            if state is not None and state != conv.state:
                self._change_state(conv, state)
            if friendly_name is not None:
                conv.friendly_name = friendly_name
            if attributes is not None:
                conv.attributes = attributes
            conv.date_updated = utcnow()
            (options or ConversationOptions()).apply(conv, conv.date_updated)
            (dates or Dates()).stamp(conv)
            if source:
                self._emit(conversation_event(UPDATED, conv, source, conv.date_updated))
            return replace(conv)

    def _screen_update(
        self,
        service_sid: str,
        ref: str,
        friendly_name: str | None,
        unique_name: str | None,
        attributes: str | None,
        state: str | None,
        source: str,
    ) -> str | None:
        """Send `onConversationUpdate` with the conversation as it would become; return the
        friendly name to apply (the one pre-event webhooks may change)."""
        with self._lock:
            current = replace(self._conversation(service_sid, ref))
        proposed = replace(
            current,
            friendly_name=current.friendly_name if friendly_name is None else friendly_name,
            unique_name=current.unique_name if unique_name is None else unique_name or None,
            attributes=attributes if attributes is not None else current.attributes,
            state=state or current.state,
            date_updated=utcnow(),
        )
        event = conversation_event(UPDATE, proposed, source, proposed.date_updated)
        screened = self._screen(event, proposed)
        if screened.friendly_name != proposed.friendly_name:
            return screened.friendly_name
        return friendly_name

    def _rename(self, conv: Conversation, unique_name: str) -> None:
        key = (conv.service_sid, unique_name)
        if unique_name and key in self._unique_names:
            raise _unique_name_taken(unique_name)
        self._unique_names.pop((conv.service_sid, conv.unique_name or ""), None)
        conv.unique_name = unique_name or None
        if unique_name:
            self._unique_names[key] = conv.sid

    def _change_state(self, conv: Conversation, state: str) -> None:
        """Closing a conversation frees its SMS number pairs for reuse; reopening reclaims them."""
        parts = self._participants[conv.sid].values()
        if state == "closed":
            for part in parts:
                self._release_binding(part)
        elif conv.state == "closed":
            for part in parts:
                if part.binding and pair(part.binding) in self._bindings:
                    raise pair_in_use(part.binding)
            for part in parts:
                if part.binding:
                    self._bindings[pair(part.binding)] = part.sid
        conv.state = state

    def delete_conversation(self, service_sid: str, ref: str, *, source: str | None) -> None:
        if source:
            with self._lock:
                current = replace(self._conversation(service_sid, ref))
            self._screen(conversation_event(REMOVE, current, source, utcnow()), current)
        with self._mutation():
            conv = self._conversation(service_sid, ref)
            for part in self._participants.pop(conv.sid).values():
                self._release_binding(part)
            self._drop_messages(conv.sid)
            self._unique_names.pop((service_sid, conv.unique_name or ""), None)
            del self._conversations[conv.sid]
            if source:  # before its scoped webhooks go, so they hear of it too
                self._emit(conversation_event(REMOVED, conv, source, utcnow()))
            self._conversation_webhooks.pop(conv.sid)


def _check_state(state: str | None) -> None:
    if state is not None and state not in STATES:
        raise errors.bad_request(
            errors.INVALID_PARAMETER, f"State must be one of {', '.join(STATES)}"
        )


def _unique_name_taken(unique_name: str) -> errors.TwilioError:
    return errors.conflict(
        errors.UNIQUE_NAME_EXISTS,
        f"Conversation with provided unique name already exists: {unique_name}",
    )
