"""Media Content Service records: uploaded files, and their attachment to one message."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from twilio_emulator import errors
from twilio_emulator.records import Media, MediaRef
from twilio_emulator.store.base import StoreBase, missing


class MediaOperations(StoreBase):
    """A media file belongs to one service, and to at most one message once attached."""

    def add_media(self, media: Media) -> Media:
        with self._mutation():
            self._service(media.service_sid)
            self._media[media.sid] = media
            return replace(media)

    def get_media(self, service_sid: str, sid: str) -> Media:
        with self._lock:
            found = self._media.get(sid)
            if found is None or found.service_sid != service_sid:
                raise missing()
            return replace(found)

    def remove_media(self, service_sid: str, sid: str) -> None:
        """Forget a media record (404 if this service has none); the caller drops its bytes.
        A message that took it keeps its `media` entry, as Twilio's message keeps what it
        was sent with."""
        with self._mutation():
            found = self._media.get(sid)
            if found is None or found.service_sid != service_sid:
                raise missing()
            del self._media[sid]

    def find_media(self, sid: str) -> Media:
        """A media of any service (its signed link names it alone)."""
        with self._lock:
            found = self._media.get(sid)
            if found is None:
                raise missing()
            return replace(found)

    def _claim_media(self, service_sid: str, media_sids: tuple[str, ...]) -> tuple[MediaRef, ...]:
        """Check (under the lock) that each media may go with a new message: it exists in
        this service (50507 otherwise, as Twilio answers) and no message has it (50508)."""
        refs = []
        for sid in media_sids:
            found = self._media.get(sid)
            if found is None or found.service_sid != service_sid:
                raise errors.bad_request(errors.MEDIA_NOT_FOUND, f"Media not found: {sid}")
            if found.message_sid is not None:
                raise errors.bad_request(
                    errors.MEDIA_ALREADY_SENT, f"Media {sid} is already sent with another message"
                )
            refs.append(found.ref())
        return tuple(refs)

    def _attach_media(
        self, refs: tuple[MediaRef, ...], message_sid: str, conversation_sid: str, now: datetime
    ) -> None:
        for ref in refs:
            media = self._media[ref.sid]
            media.message_sid, media.conversation_sid = message_sid, conversation_sid
            media.date_updated = now
