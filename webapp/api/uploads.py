"""The files a message is sent with: the sender's own uploads for that conversation, each
sent once. Kept in Parley's database (:class:`~webapp.models.MediaUpload`) because MCS records
every upload as made by ``system``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from flask_login import current_user

from webapp.errors import ApiError
from webapp.extensions import db
from webapp.models import MediaUpload
from webapp.twilio_gateway.media import is_media_sid

#: Twilio relays at most 10 files with one message.
MAX_MEDIA_PER_MESSAGE = 10


#: An upload not sent within this long is forgotten (its bytes stay in MCS, unattached).
UNSENT_KEPT = timedelta(days=1)


def record_upload(media_sid: str, conversation_sid: str) -> None:
    """Note the upload, and forget the ones left unsent (a closed tab, a removed preview),
    so the table holds about a day of uploads."""
    stale = datetime.now(UTC) - UNSENT_KEPT
    db.session.execute(db.delete(MediaUpload).where(MediaUpload.created_at < stale))
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
