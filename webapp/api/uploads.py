"""The files a message is sent with: the sender's own uploads for that conversation, each
sent once. Kept in Parley's database (:class:`~webapp.models.MediaUpload`) because MCS records
every upload as made by ``system``."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask_login import current_user

from webapp.errors import ApiError
from webapp.extensions import db
from webapp.models import MediaUpload
from webapp.twilio_gateway import GatewayError
from webapp.twilio_gateway.media import MediaGateway, is_media_sid

log = logging.getLogger(__name__)

#: Twilio relays at most 10 files with one message.
MAX_MEDIA_PER_MESSAGE = 10


#: An upload not sent within this long (a closed tab, a removed preview) is deleted from MCS
#: by ``flask media clean``; a message can no longer take it.
UNSENT_KEPT = timedelta(days=1)

#: Uploads deleted per run of ``flask media clean`` at most, so one run stays short; the next
#: run takes the rest.
CLEAN_BATCH = 500


@dataclass(frozen=True)
class CleanResult:
    deleted: int  # deleted from MCS now
    gone: int  # MCS had them no more (or refuses to delete them): forgotten all the same
    kept: int  # MCS could not be reached: tried again next run


def record_upload(media_sid: str, conversation_sid: str) -> None:
    """Note the upload: until a message of the uploader's takes it, only Parley knows whose
    it is."""
    db.session.add(
        MediaUpload(
            sid=media_sid, conversation_sid=conversation_sid, identity=current_user.identity
        )
    )
    db.session.commit()


def uploader_of(media_sid: str) -> str | None:
    """Who uploaded a file that no message has taken yet."""
    row = db.session.get(MediaUpload, media_sid)
    return row.identity if row is not None else None


def own_uploads(sid: str, raw: object) -> list[str]:
    """The ``media_sids`` of a send: each the sender's own upload for this conversation, not
    yet sent. Anything else is refused with one message, whoever else's file it is."""
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(s, str) for s in raw):
        raise ApiError(400, "invalid_field", "'media_sids' must be a list of media SIDs.")
    if len(raw) > MAX_MEDIA_PER_MESSAGE:
        raise ApiError(
            400, "too_many_files", f"A message takes at most {MAX_MEDIA_PER_MESSAGE} files."
        )
    sids = list(dict.fromkeys(raw))
    found = {}
    if all(is_media_sid(s) for s in sids):
        rows = db.session.execute(db.select(MediaUpload).where(MediaUpload.sid.in_(sids)))
        found = {row.sid: row for row in rows.scalars()}
    for media_sid in sids:
        row = found.get(media_sid)
        if row is None or row.conversation_sid != sid or row.identity != current_user.identity:
            raise ApiError(
                400, "unknown_media", "A file to send is not one you uploaded to this conversation."
            )
    return sids


def forget_uploads(media_sids: Sequence[str]) -> None:
    """The files went out with a message: they cannot be sent again."""
    if media_sids:
        db.session.execute(db.delete(MediaUpload).where(MediaUpload.sid.in_(media_sids)))
        db.session.commit()


def clean_unsent(media: MediaGateway, now: datetime | None = None) -> CleanResult:
    """Delete from MCS the uploads no message took within :data:`UNSENT_KEPT`, and forget
    them. A file MCS no longer has, or refuses to delete (a 4xx), is forgotten too, so one
    bad row never blocks the rest; one MCS cannot be reached for stays for the next run."""
    stale = (now or datetime.now(UTC)) - UNSENT_KEPT
    rows = db.session.execute(
        db.select(MediaUpload.sid)
        .where(MediaUpload.created_at < stale)
        .order_by(MediaUpload.created_at)
        .limit(CLEAN_BATCH)
    )
    deleted = gone = kept = 0
    done: list[str] = []
    for sid in rows.scalars():
        try:
            media.delete(sid)
            deleted += 1
        except GatewayError as exc:
            if exc.status >= 500:
                log.warning("unsent upload %s not deleted: %s", sid, exc.message)
                kept += 1
                continue
            if not exc.not_found:
                log.warning("MCS refused to delete unsent upload %s: %s", sid, exc.message)
            gone += 1
        done.append(sid)
    forget_uploads(done)
    return CleanResult(deleted, gone, kept)
