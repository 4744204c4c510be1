"""Message operations (with media) and inbound SMS/MMS; what is sent to phones is in
`delivery`."""

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
    message_event,
)
from twilio_emulator.records import (
    Conversation,
    Dates,
    Message,
    OutboundSms,
    Participant,
    utcnow,
)
from twilio_emulator.store.delivery import DeliveryOperations
from twilio_emulator.store.media import MediaOperations


class MessageOperations(DeliveryOperations, MediaOperations):
    """Messages get the next index of their conversation; indices are never reused."""

    def create_message(
        self,
        service_sid: str,
        conversation: str,
        *,
        author: str | None,
        body: str | None,
        attributes: str | None,
        source: str | None,
        date_created: datetime | None = None,
        date_updated: datetime | None = None,
        media_sids: tuple[str, ...] = (),
    ) -> Message:
        """`date_created`/`date_updated` override the clock, as Twilio's `DateCreated` and
        `DateUpdated` parameters do (for importing history); the index is still the next.
        `media_sids` name uploaded media (`MediaSid`); with media the body may be left out."""
        _check_content(body, attributes)
        if not body and not media_sids:
            raise errors.bad_request(errors.INVALID_PARAMETER, "Body or MediaSid is required")
        now = utcnow()
        with self._lock:
            conv = self._conversation(service_sid, conversation)
            sender = self._author_participant(conv, author or "system")
            media = self._claim_media(service_sid, media_sids)
        msg = Message(
            sid=sids.new_sid(sids.MESSAGE),
            service_sid=service_sid,
            conversation_sid=conv.sid,
            index=-1,
            author=author or "system",
            body=body or None,
            attributes=attributes or "{}",
            participant_sid=sender.sid if sender else None,
            date_created=date_created or now,
            date_updated=date_updated or date_created or now,
            media=media,
        )
        if source:
            msg = self._screen(message_event(ADD, msg, source, now), msg)
            _check_content(msg.body, msg.attributes)
        with self._mutation():
            conv = self._conversation(service_sid, conversation)
            sender = self._author_participant(conv, msg.author)
            msg.participant_sid = sender.sid if sender else None
            self._claim_media(service_sid, media_sids)  # nobody took them meanwhile
            self._attach_media(msg.media, msg.sid, conv.sid, now)
            msg.index = conv.next_message_index
            conv.next_message_index += 1
            self._messages[conv.sid][msg.sid] = msg
            if source:
                self._emit(message_event(ADDED, msg, source, now))
            sent_to_phones = bool(self._send_to_phones(conv, msg, sender))
            created = replace(msg)
        if sent_to_phones:
            self._deliver_sent(conv.sid, msg.sid)
        return created

    def _author_participant(self, conv: Conversation, author: str) -> Participant | None:
        """Twilio links a message to the participant whose identity or phone is the author."""
        for part in self._participants[conv.sid].values():
            if part.identity == author or (part.binding and part.binding.address == author):
                return part
        return None

    def get_message(self, service_sid: str, conversation: str, sid: str) -> Message:
        with self._lock:
            return replace(self._message(self._conversation(service_sid, conversation), sid))

    def list_messages(self, service_sid: str, conversation: str) -> list[Message]:
        """Messages in index order (ascending); the caller reverses for `Order=desc`."""
        with self._lock:
            conv = self._conversation(service_sid, conversation)
            found = [replace(m) for m in self._messages[conv.sid].values()]
        return sorted(found, key=lambda m: m.index)

    def update_message(
        self,
        service_sid: str,
        conversation: str,
        sid: str,
        *,
        author: str | None,
        body: str | None,
        attributes: str | None,
        source: str | None,
        dates: Dates | None = None,
    ) -> Message:
        _check_content(body, attributes)
        if source:
            with self._lock:
                current = self._message(self._conversation(service_sid, conversation), sid)
                proposed = replace(
                    current,
                    author=current.author if author is None else author,
                    body=current.body if body is None else body,
                    attributes=current.attributes if attributes is None else attributes,
                    date_updated=utcnow(),
                )
            screened = self._screen(
                message_event(UPDATE, proposed, source, proposed.date_updated), proposed
            )
            _check_content(screened.body, screened.attributes)
            author, body, attributes = _changed(proposed, screened, author, body, attributes)
        with self._mutation():
            conv = self._conversation(service_sid, conversation)
            msg = self._message(conv, sid)
            if author is not None:
                msg.author = author
                sender = self._author_participant(conv, author)
                msg.participant_sid = sender.sid if sender else None
            if body is not None:
                msg.body = body
            if attributes is not None:
                msg.attributes = attributes
            msg.date_updated = utcnow()
            (dates or Dates()).stamp(msg)
            if source:
                self._emit(message_event(UPDATED, msg, source, msg.date_updated))
            return replace(msg)

    def delete_message(
        self, service_sid: str, conversation: str, sid: str, *, source: str | None
    ) -> None:
        if source:
            with self._lock:
                current = replace(self._message(self._conversation(service_sid, conversation), sid))
            self._screen(message_event(REMOVE, current, source, utcnow()), current)
        with self._mutation():
            conv = self._conversation(service_sid, conversation)
            msg = self._message(conv, sid)
            self._drop_messages(conv.sid, msg.sid)
            if source:
                self._emit(message_event(REMOVED, msg, source, utcnow()))

    # -- inbound SMS ----------------------------------------------------------------------

    def receive_sms(
        self,
        service_sid: str,
        *,
        from_: str,
        to: str,
        body: str | None,
        media_sids: tuple[str, ...] = (),
    ) -> Message:
        """An SMS (an MMS with `media_sids`) from a phone participant arrives: `to` is the
        conversation (SID or unique name) or the Twilio number, which Twilio routes by the
        (phone, number) pair."""
        with self._lock:
            conv = self._sms_conversation(service_sid, from_, to)
            phone = next(
                (
                    p
                    for p in self._participants[conv.sid].values()
                    if p.binding and p.binding.address == from_
                ),
                None,
            )
            if phone is None or phone.binding is None:
                raise errors.bad_request(
                    errors.INVALID_PARAMETER,
                    f"{from_} is not an SMS participant of conversation {conv.sid}",
                )
        return self.create_message(
            service_sid,
            conv.sid,
            author=from_,
            body=body,
            attributes=None,
            source=phone.binding.type.upper(),  # SMS or WHATSAPP, as Twilio's Source says
            media_sids=media_sids,
        )

    def _sms_conversation(self, service_sid: str, from_: str, to: str) -> Conversation:
        if not limits.CHANNEL_ADDRESS.fullmatch(to):
            return self._conversation(service_sid, to)
        part_sid = self._bindings.get((from_, to))
        owner = next((c for c, ps in self._participants.items() if part_sid in ps), None)
        if owner is None:
            raise errors.TwilioError(
                404, errors.NOT_FOUND, f"No active conversation binds {from_} to {to}"
            )
        return self._conversations[owner]

    def outbox(self) -> list[OutboundSms]:
        with self._lock:
            return [replace(sms) for sms in self._outbox]


def _check_content(body: str | None, attributes: str | None) -> None:
    limits.message_body(body)
    limits.attributes(attributes, limits.MESSAGE_ATTRIBUTES_BYTES)


def _changed(
    proposed: Message,
    screened: Message,
    author: str | None,
    body: str | None,
    attributes: str | None,
) -> tuple[str | None, str | None, str | None]:
    """The update to apply: what was asked, overridden where the pre-event webhook changed it."""
    return (
        screened.author if screened.author != proposed.author else author,
        screened.body if screened.body != proposed.body else body,
        screened.attributes if screened.attributes != proposed.attributes else attributes,
    )
