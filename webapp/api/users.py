"""Searching for people to start a conversation with, and SDK access tokens."""

from __future__ import annotations

import time
import unicodedata
from datetime import UTC, datetime

from flask import Response, jsonify, request
from flask_login import current_user, login_required

from webapp.api import bp
from webapp.api.validation import identity_arg, int_arg
from webapp.errors import ApiError
from webapp.names import directory
from webapp.presenters import iso
from webapp.services import get_services
from webapp.twilio_gateway import issue_access_token
from webapp.twilio_gateway.tokens import DEFAULT_TOKEN_TTL


@bp.get("/users")
@login_required
def list_users() -> Response:
    """People matching ``?q=`` (two characters at least; without it, nobody), a page of
    ``?limit=`` at a time, by identity (what the API takes) and display name (what people
    read); ``next`` is the ``?after=`` of the following page. ``username`` repeats the
    identity for clients written before identities and usernames differed. With
    ``PARLEY_DIRECTORY=off``, a 404 that says conversations come from the site."""
    if not get_services().config.PARLEY_DIRECTORY:
        raise ApiError(404, "directory_off", DIRECTORY_OFF)
    if "q" not in request.args:
        return jsonify({"users": [], "next": None})  # asks for nobody, so finds nobody
    found = directory.search(
        _query(),
        limit=int_arg("limit", directory.DEFAULT_PAGE, low=1, high=directory.MAX_PAGE)
        or directory.DEFAULT_PAGE,
        after=identity_arg(request.args["after"]) if "after" in request.args else None,
        exclude_id=current_user.id,
    )
    users = [
        {"identity": identity, "display_name": name, "username": identity}
        for identity, name in found.people
    ]
    return jsonify({"users": users, "next": found.next_after})


DIRECTORY_OFF = "Conversations here are made by the site you came from; there is no directory."


def _query() -> str:
    query = request.args.get("q", "").strip()
    if len(query) < directory.MIN_QUERY:
        raise ApiError(
            400,
            "query_too_short",
            f"Type at least {directory.MIN_QUERY} characters of a name to search.",
        )
    if len(query) > directory.MAX_QUERY:
        raise ApiError(400, "too_long", f"'q' is too long: at most {directory.MAX_QUERY}.")
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in query):
        raise ApiError(400, "invalid_parameter", "'q' holds characters no name has.")
    return query


@bp.get("/token")
@login_required
def access_token() -> Response:
    """A Twilio access token for the logged-in user only, never a client-supplied identity."""
    config = get_services().config
    issued_at = int(time.time())  # read before signing: expires_at is never later than exp
    token = issue_access_token(config, current_user.identity, DEFAULT_TOKEN_TTL)
    return jsonify(
        {
            "token": token,
            "identity": current_user.identity,
            "ttl": DEFAULT_TOKEN_TTL,
            # Refresh before this (docs/sdk-clients.md); SDKs also fire tokenAboutToExpire.
            "expires_at": iso(datetime.fromtimestamp(issued_at + DEFAULT_TOKEN_TTL, UTC)),
        }
    )
