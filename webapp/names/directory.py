"""Looking people up by name to start a conversation with them, a page at a time.

A large site has too many users to list, so a search needs a few characters
(:data:`MIN_QUERY`) and answers a page (:data:`MAX_PAGE` at most), in identity order with the
last identity as the cursor: a keyset page stays right while people sign up in between.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_

from webapp.extensions import db
from webapp.models import User

MIN_QUERY = 2
MAX_QUERY = 64
DEFAULT_PAGE = 20
MAX_PAGE = 50


@dataclass(frozen=True)
class Found:
    people: list[tuple[str, str]]  # (identity, name)
    next_after: str | None  # pass as ``after`` for the next page; None: this was the last


def _like_prefix(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def search(query: str, *, limit: int, after: str | None, exclude_id: int) -> Found:
    """People whose display name starts with ``query`` (or has a word that does), or whose
    identity (a password account's username) does; any case."""
    prefix = _like_prefix(query)
    matches = or_(
        User.display_name.ilike(prefix, escape="\\"),
        User.display_name.ilike("% " + prefix, escape="\\"),
        User.identity.ilike(prefix, escape="\\"),
    )
    select = db.select(User.identity, User.display_name).where(matches, User.id != exclude_id)
    if after is not None:
        select = select.where(User.identity > after)
    rows = db.session.execute(select.order_by(User.identity).limit(limit + 1)).all()
    people = [(identity, name or identity) for identity, name in rows[:limit]]
    more = len(rows) > limit
    return Found(people, people[-1][0] if more and people else None)
