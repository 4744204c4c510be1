"""What happens to a message sent to phone participants (SMS or WhatsApp): the outbox, one
delivery receipt per phone, `onDeliveryUpdated` webhooks, and the numbers made to fail.

A phone gets `sent` and then, unless it fails, `delivered`, each with its webhook. Failing is
decided when the message is sent: a number made to fail (`/_dev/sms-fail`, or a magic number
`+1555003XXXX`, which fails with code `3XXXX`), a body over SMS's 1,600 characters, or media
that cannot go as MMS (JPG, PNG, MP3, AMR, MP4 and PDF under 5 MB in all, at most 10 files;
over WhatsApp, any file up to 16 MB).
"""

from __future__ import annotations

import re
from dataclasses import replace

from twilio_emulator import errors, limits, sids
from twilio_emulator.events import delivery_event
from twilio_emulator.records import (
    Conversation,
    DeliveryReceipt,
    Message,
    OutboundSms,
    Participant,
    utcnow,
)
from twilio_emulator.store.base import StoreBase, missing

#: `+1555003` then four digits: a phone that always fails with error code `3` + those digits
#: (`+15550030006` fails with 30006). 555 numbers reach nobody, so no real phone is hit.
MAGIC_FAILING_NUMBER = re.compile(r"\+1555003([0-9]{4})")

#: Carrier-side codes, which Twilio reports as `undelivered`; any other code is `failed`.
UNDELIVERED_CODES = frozenset({30003, 30004, 30005, 30006, 30007, 30008})

#: What Twilio relays to phones as MMS (Conversations limits page).
MMS_TYPES = frozenset(
    {
        "image/jpeg",
        "image/jpg",
        "image/png",
        "audio/mpeg",
        "audio/mp3",
        "audio/amr",
        "video/mp4",
        "application/pdf",
    }
)
MMS_MAX_BYTES = 5 * 1024 * 1024
MMS_MAX_FILES = 10
WHATSAPP_MAX_BYTES = 16 * 1024 * 1024


def status_for(code: int) -> str:
    return "undelivered" if code in UNDELIVERED_CODES else "failed"


class DeliveryOperations(StoreBase):
    """Delivery receipts are made by the store itself, never through the REST API."""

    def set_failing_number(self, address: str, code: int | None) -> None:
        """Make texts to `address` fail with `code` from now on (None: deliver them again)."""
        with self._mutation():
            if code is None:
                self._failing_numbers.pop(address, None)
            else:
                self._failing_numbers[address] = code

    def _failure_code(self, address: str, channel: str, msg: Message) -> int:
        """Why a text to this phone fails (a Twilio error code), or 0 when it is delivered."""
        if address in self._failing_numbers:
            return self._failing_numbers[address]
        magic = MAGIC_FAILING_NUMBER.fullmatch(address.removeprefix(limits.WHATSAPP_PREFIX))
        if magic:
            return int("3" + magic.group(1))
        if len(msg.body or "") > limits.SMS_BODY_CHARS:
            return errors.SMS_BODY_TOO_LONG
        if channel == "whatsapp":  # Twilio's limit is the size alone (16 MB)
            too_large = any(m.size > WHATSAPP_MAX_BYTES for m in msg.media)
            return errors.MMS_TOO_LARGE if too_large else 0
        if len(msg.media) > MMS_MAX_FILES or sum(m.size for m in msg.media) >= MMS_MAX_BYTES:
            return errors.MMS_TOO_LARGE
        if any(m.content_type.lower() not in MMS_TYPES for m in msg.media):
            return errors.MMS_CONTENT_REJECTED
        return 0

    def _send_to_phones(
        self, conv: Conversation, msg: Message, sender: Participant | None
    ) -> list[DeliveryReceipt]:
        """Under the lock: an outbox entry and a receipt (`sent`, or its failure) for every
        phone participant but the author, each receipt announced by `onDeliveryUpdated`."""
        phones = [p for p in self._participants[conv.sid].values() if p.binding and p is not sender]
        receipts: list[DeliveryReceipt] = []
        for part in phones:
            assert part.binding is not None
            code = self._failure_code(part.binding.address, part.binding.type, msg)
            prefix = sids.MMS_MESSAGE if msg.media else sids.SMS_MESSAGE
            receipt = DeliveryReceipt(
                sid=sids.new_sid(sids.DELIVERY_RECEIPT),
                service_sid=msg.service_sid,
                conversation_sid=conv.sid,
                message_sid=msg.sid,
                participant_sid=part.sid,
                channel_message_sid=sids.new_sid(prefix),
                seq=self._next_seq(),
                status=status_for(code) if code else "sent",
                error_code=code,
                date_created=msg.date_created,
                date_updated=msg.date_created,
                channel=part.binding.type,
            )
            self._outbox.append(
                OutboundSms(
                    to=part.binding.address,
                    from_=part.binding.proxy_address,
                    body=msg.body,
                    conversation_sid=conv.sid,
                    message_sid=msg.sid,
                    participant_sid=part.sid,
                    status=receipt.status,
                    date_created=msg.date_created,
                    media=msg.media,
                    error_code=code,
                )
            )
            receipts.append(receipt)
        if receipts:
            self._receipts[msg.sid] = receipts
            msg.delivery = delivery_summary(receipts)
            for receipt in receipts:
                self._emit(delivery_event(receipt))
        return receipts

    def _deliver_sent(self, conversation_sid: str, message_sid: str) -> None:
        """The carriers report back: every `sent` receipt of the message becomes `delivered`."""
        with self._mutation():
            msg = self._messages.get(conversation_sid, {}).get(message_sid)
            receipts = self._receipts.get(message_sid, [])
            now = utcnow()
            for receipt in receipts:
                if receipt.status != "sent":
                    continue
                receipt.status, receipt.date_updated = "delivered", now
                self._outbox_entry(receipt).status = "delivered"
                self._emit(delivery_event(receipt))
            if msg is not None and receipts:
                msg.delivery = delivery_summary(receipts)

    def _outbox_entry(self, receipt: DeliveryReceipt) -> OutboundSms:
        """The text a receipt is about; searched from the newest, where it almost always is."""
        return next(
            sms
            for sms in reversed(self._outbox)
            if (sms.message_sid, sms.participant_sid)
            == (receipt.message_sid, receipt.participant_sid)
        )

    def list_receipts(
        self, service_sid: str, conversation: str, message_sid: str
    ) -> list[DeliveryReceipt]:
        with self._lock:
            conv = self._conversation(service_sid, conversation)
            self._message(conv, message_sid)
            return [replace(r) for r in self._receipts.get(message_sid, [])]

    def get_receipt(
        self, service_sid: str, conversation: str, message_sid: str, sid: str
    ) -> DeliveryReceipt:
        for receipt in self.list_receipts(service_sid, conversation, message_sid):
            if receipt.sid == sid:
                return receipt
        raise missing()


def delivery_summary(receipts: list[DeliveryReceipt]) -> dict[str, object]:
    """Twilio's message `delivery` field: for each status, whether all, some or none of the
    phones reached it. A delivered text was sent too, so `sent` counts it (Twilio's docs do not
    say; this reading is the emulator's)."""

    def share(*statuses: str) -> str:
        count = sum(1 for r in receipts if r.status in statuses)
        return "all" if count == len(receipts) else ("some" if count else "none")

    return {
        "total": len(receipts),
        "sent": share("sent", "delivered", "read"),
        "delivered": share("delivered", "read"),
        "read": share("read"),
        "failed": share("failed"),
        "undelivered": share("undelivered"),
    }
