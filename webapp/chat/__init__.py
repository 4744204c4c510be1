"""The chat page: one HTML page that talks to the JSON API and the event stream.

``?embed=1`` is the layout for a host site's frame (``PARLEY_EMBED_ORIGINS``): no Parley
header (the host has its own, and its own logout), the frame's full height, and on
``/c/<sid>`` that one conversation without the list. It lives in the URL, not the session, so
the same person can open Parley on its own in a tab and get the whole page; the page keeps
the query string as it moves between conversations.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from flask import Blueprint, abort, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from webapp.events.broker import BrokerUnavailable
from webapp.people.participants import identities
from webapp.services import get_services
from webapp.twilio_gateway import GatewayError, is_conversation_sid

bp = Blueprint("chat", __name__)


def embedded() -> bool:
    """Whether this page is shown inside a host site's frame (module docstring): ``?embed=1``,
    or a login page whose ``next`` has it (where an expired session in the frame lands)."""
    if request.args.get("embed") == "1":
        return True
    return parse_qs(urlsplit(request.args.get("next", "")).query).get("embed") == ["1"]


@bp.app_context_processor
def _layout() -> dict[str, bool]:
    # Every page (the login and "not signed in" pages too) drops the header in a frame.
    return {"embedded": embedded()}


@bp.get("/")
@login_required
def index() -> ResponseReturnValue:
    return _page(None)


@bp.get("/c/<sid>")
@login_required
def conversation(sid: str) -> ResponseReturnValue:
    # An outsider gets the same page the API's 404 turns into "Conversation not found".
    services = get_services()
    try:
        members = (
            identities(services.membership.participants(sid)) if is_conversation_sid(sid) else []
        )
    except GatewayError as exc:
        if exc.status >= 500:
            # Twilio is unreachable, which is not "not yours": the page opens and its own API
            # calls (which check membership) say what is wrong and retry.
            return _page(sid)
        members = []
    return _page(sid, 200 if current_user.identity in members else 404)


def _page(open_sid: str | None, status: int = 200) -> ResponseReturnValue:
    services = get_services()
    try:
        # The stream starts from here, so nothing that happens while the page loads is lost.
        cursor = str(services.broker.cursor(current_user.identity))
    except BrokerUnavailable:
        abort(503)
    return render_template(
        "chat/index.html",
        stream_cursor=cursor,
        open_conversation_sid=open_sid,
        max_body_length=services.config.MAX_MESSAGE_BODY,
        max_file_bytes=services.config.MEDIA_MAX_BYTES,
    ), status
