"""Participant operations: chat participants (Identity) and SMS ones (MessagingBinding)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from twilio_emulator import errors, limits, sids
from twilio_emulator.events import (
    ADD,
    ADDED,
    REMOVE,
    REMOVED,
    UPDATE,
    UPDATED,
    participant_event,
)
from twilio_emulator.records import Binding, Conversation, Dates, Participant, utcnow
from twilio_emulator.store.base import StoreBase, pair, pair_in_use


class ParticipantOperations(StoreBase):
    """A participant is a chat identity or a phone (address + proxy), never both."""

    def create_participant(
        self,
        service_sid: str,
        conversation: str,
        *,
        identity: str | None,
        address: str | None,
        proxy_address: str | None,
        attributes: str | None,
        source: str | None,
        role_sid: str | None = None,
        dates: Dates | None = None,
        projected_address: str | None = None,
    ) -> Participant:
        binding = _binding(identity, address, proxy_address)
        if binding is None:
            limits.identity(identity or "")
        limits.attributes(attributes, limits.PARTICIPANT_ATTRIBUTES_BYTES)
        now = utcnow()
        with self._lock:
            conv_sid = self._conversation(service_sid, conversation).sid
        part = Participant(
            sid=sids.new_sid(sids.PARTICIPANT),
            service_sid=service_sid,
            conversation_sid=conv_sid,
            seq=0,
            identity=identity if binding is None else None,
            binding=binding,
            attributes=attributes or "{}",
            date_created=now,
            date_updated=now,
            role_sid=role_sid or None,
        )
        _project(part, projected_address or None)
        (dates or Dates()).stamp(part)
        if source:
            self._screen(participant_event(ADD, part, source, now), part)
        with self._mutation():
            conv = self._conversation(service_sid, conversation)
            parts = self._participants[conv.sid]
            self._check_room(parts, binding)
            if identity and any(p.identity == identity for p in parts.values()):
                raise errors.conflict(
                    errors.PARTICIPANT_EXISTS, f"Participant already exists: {identity}"
                )
            if binding and conv.state != "closed" and pair(binding) in self._bindings:
                raise pair_in_use(binding)
            part.seq = self._next_seq()
            if part.identity:
                part.user_sid = self._user_for(service_sid, part.identity).sid
            if binding and conv.state != "closed":
                self._bindings[pair(binding)] = part.sid
            parts[part.sid] = part
            if source:
                self._emit(participant_event(ADDED, part, source, now))
            return replace(part)

    @staticmethod
    def _check_room(parts: dict[str, Participant], binding: Binding | None) -> None:
        if len(parts) >= limits.PARTICIPANTS_PER_CONVERSATION:
            raise errors.bad_request(errors.PARTICIPANTS_LIMIT, "Participants limit exceeded")
        non_chat = sum(1 for p in parts.values() if p.binding)
        if binding and non_chat >= limits.NON_CHAT_PARTICIPANTS_PER_CONVERSATION:
            raise errors.bad_request(
                errors.NON_CHAT_PARTICIPANTS_LIMIT,
                "Non-chat conversation participants limit exceeded",
            )

    def get_participant(self, service_sid: str, conversation: str, ref: str) -> Participant:
        with self._lock:
            conv = self._conversation(service_sid, conversation)
            return replace(self._participant(conv, ref))

    def list_participants(self, service_sid: str, conversation: str) -> list[Participant]:
        with self._lock:
            conv = self._conversation(service_sid, conversation)
            found = [replace(p) for p in self._participants[conv.sid].values()]
        return sorted(found, key=lambda p: p.seq)

    def update_participant(
        self,
        service_sid: str,
        conversation: str,
        ref: str,
        *,
        attributes: str | None,
        last_read_message_index: int | None,
        source: str | None,
        role_sid: str | None = None,
        last_read_timestamp: datetime | None = None,
        dates: Dates | None = None,
        identity: str | None = None,
        proxy_address: str | None = None,
        projected_address: str | None = None,
    ) -> Participant:
        """`identity` renames a chat participant; `proxy_address` moves an SMS participant to
        another Twilio number; `projected_address` ("" or "null" removes it) is a chat
        participant's number in a group MMS, which the emulator stores and does not send."""
        limits.attributes(attributes, limits.PARTICIPANT_ATTRIBUTES_BYTES)
        if source:
            with self._lock:
                current = self._participant(self._conversation(service_sid, conversation), ref)
                proposed = replace(
                    current,
                    attributes=current.attributes if attributes is None else attributes,
                    last_read_message_index=(
                        current.last_read_message_index
                        if last_read_message_index is None
                        else last_read_message_index
                    ),
                    date_updated=utcnow(),
                )
            self._screen(participant_event(UPDATE, proposed, source, utcnow()), proposed)
        with self._mutation():
            conv = self._conversation(service_sid, conversation)
            part = self._participant(conv, ref)
            now = utcnow()
            if attributes is not None:
                part.attributes = attributes
            if last_read_message_index is not None:
                part.last_read_message_index = last_read_message_index
                part.last_read_timestamp = now
            if last_read_timestamp is not None:
                part.last_read_timestamp = last_read_timestamp
            if role_sid is not None:
                part.role_sid = role_sid or None
            if identity:
                self._rename_participant(conv, part, identity)
            if proxy_address is not None:
                self._move_proxy(conv, part, proxy_address)
            _project(part, projected_address)
            part.date_updated = now
            (dates or Dates()).stamp(part)
            if source:
                self._emit(participant_event(UPDATED, part, source, now))
            return replace(part)

    def _rename_participant(self, conv: Conversation, part: Participant, identity: str) -> None:
        if identity == part.identity:
            return
        if part.binding:
            raise errors.bad_request(
                errors.IDENTITY_WITH_BINDING,
                "Identity parameter not acceptable for this Participant",
            )
        limits.identity(identity)
        if any(p.identity == identity for p in self._participants[conv.sid].values()):
            raise errors.conflict(
                errors.PARTICIPANT_EXISTS, f"Participant already exists: {identity}"
            )
        part.identity = identity
        part.user_sid = self._user_for(conv.service_sid, identity).sid

    def _move_proxy(self, conv: Conversation, part: Participant, proxy: str) -> None:
        """Point an SMS participant at another Twilio number; the new pair must be free."""
        if part.binding is None:
            raise errors.bad_request(
                errors.NO_PROXY_ADDRESS, "This participant has no proxy address"
            )
        if proxy in ("", "null"):  # group MMS, which the emulator does not send
            raise errors.bad_request(
                errors.INVALID_PARAMETER, "Removing a proxy address is not emulated"
            )
        limits.phone_address(proxy, proxy=True, channel=part.binding.type)
        if proxy == part.binding.address:
            raise errors.bad_request(
                errors.ADDRESS_EQUALS_PROXY, "Participant address must not equal its proxy address"
            )
        moved = replace(part.binding, proxy_address=proxy)
        if moved == part.binding:
            return
        if conv.state != "closed":
            if pair(moved) in self._bindings:
                raise pair_in_use(moved)
            self._release_binding(part)
            self._bindings[pair(moved)] = part.sid
        part.binding = moved

    def delete_participant(
        self, service_sid: str, conversation: str, ref: str, *, source: str | None
    ) -> None:
        if source:
            with self._lock:
                current = replace(
                    self._participant(self._conversation(service_sid, conversation), ref)
                )
            self._screen(participant_event(REMOVE, current, source, utcnow()), current)
        with self._mutation():
            conv = self._conversation(service_sid, conversation)
            part = self._participant(conv, ref)
            self._release_binding(part)
            del self._participants[conv.sid][part.sid]
            if source:
                self._emit(participant_event(REMOVED, part, source, utcnow()))


def _project(part: Participant, projected: str | None) -> None:
    """Set (or, with "" or "null", remove) a chat participant's group-MMS number."""
    if projected is None:
        return
    if part.binding:
        raise errors.bad_request(
            errors.PROJECTED_WITH_BINDING, "A participant with a binding has no projected address"
        )
    if projected in ("", "null"):
        if part.projected_address is None:
            raise errors.bad_request(
                errors.NO_PROJECTED_ADDRESS, "This participant has no projected address"
            )
        part.projected_address = None
        return
    limits.phone_address(projected, proxy=True)
    part.projected_address = projected


def _binding(identity: str | None, address: str | None, proxy: str | None) -> Binding | None:
    """Validate the chat-or-phone choice of a new participant; None means a chat participant."""
    if address is None and proxy is None:
        return None
    if identity:
        raise errors.bad_request(
            errors.IDENTITY_WITH_BINDING, "Identity parameter not acceptable for this Participant"
        )
    channel = limits.channel_of(address or "")
    limits.phone_address(address or "", proxy=False, channel=channel)
    limits.phone_address(proxy or "", proxy=True, channel=channel)
    if address == proxy:
        raise errors.bad_request(
            errors.ADDRESS_EQUALS_PROXY, "Participant address must not equal its proxy address"
        )
    return Binding(address=address or "", proxy_address=proxy or "", type=channel)
