"""The questions "which conversations is this user, identity or phone in?"."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from twilio_emulator import errors
from twilio_emulator.records import Conversation, Participant, User
from twilio_emulator.store.base import StoreBase, missing


class MembershipOperations(StoreBase):
    """Memberships are participants seen from the person's side, across conversations."""

    def user_conversations(
        self, service_sid: str, ref: str
    ) -> tuple[User, list[tuple[Participant, Conversation, int | None]]]:
        """The conversations a user takes part in, each with the user's unread count (None
        until the participant has a read horizon, as Twilio reports it)."""
        with self._lock:
            user = self._user(service_sid, ref)
            rows = []
            for part, conv in self._memberships(service_sid, lambda p: p.user_sid == user.sid):
                unread = None
                if part.last_read_message_index is not None:
                    unread = sum(
                        1
                        for m in self._messages[conv.sid].values()
                        if m.index > part.last_read_message_index
                    )
                rows.append((part, conv, unread))
            return replace(user), rows

    def user_conversation(
        self, service_sid: str, ref: str, conversation: str
    ) -> tuple[User, Participant, Conversation, int | None]:
        """One of the user's conversations, as ``user_conversations`` lists it (404 when the
        user is not in it)."""
        user, rows = self.user_conversations(service_sid, ref)
        conv_sid = self._conversation(service_sid, conversation).sid
        for part, conv, unread in rows:
            if conv.sid == conv_sid:
                return user, part, conv, unread
        raise missing()

    def set_notification_level(
        self, service_sid: str, ref: str, conversation: str, level: str
    ) -> None:
        """Twilio fires no webhook for it: it is the user's setting, not the conversation's."""
        with self._mutation():
            user = self._user(service_sid, ref)
            conv = self._conversation(service_sid, conversation)
            part = next(
                (p for p in self._participants[conv.sid].values() if p.user_sid == user.sid),
                None,
            )
            if part is None:
                raise missing()
            part.notification_level = level.lower()

    def participant_conversations(
        self, service_sid: str, *, identity: str | None, address: str | None
    ) -> list[tuple[Participant, Conversation]]:
        if identity and address:
            raise errors.bad_request(
                errors.IDENTITY_AND_ADDRESS, "Use either Identity or Address, not both"
            )
        if not identity and not address:
            raise errors.bad_request(errors.INVALID_PARAMETER, "Identity or Address is required")
        with self._lock:
            return self._memberships(
                service_sid,
                lambda p: (
                    (identity is not None and p.identity == identity)
                    or (
                        address is not None
                        and p.binding is not None
                        and p.binding.address == address
                    )
                ),
            )

    def _memberships(
        self, service_sid: str, match: Callable[[Participant], bool]
    ) -> list[tuple[Participant, Conversation]]:
        self._service(service_sid)
        rows = [
            (replace(part), replace(self._conversations[conv_sid]))
            for conv_sid, parts in self._participants.items()
            if self._conversations[conv_sid].service_sid == service_sid
            for part in parts.values()
            if match(part)
        ]
        return sorted(rows, key=lambda row: row[1].seq)
