"""The service worker's script, and the API the page turns push on and off with."""

from __future__ import annotations

import base64
import binascii
import ipaddress
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Response, current_app, request, send_file
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from webapp.errors import ApiError, json_error
from webapp.extensions import db
from webapp.json_input import InvalidJson, loads
from webapp.models import PUSH_ENDPOINT_MAX_CHARS, PushSubscription
from webapp.push import bp
from webapp.services import get_services

SERVICE_WORKER = Path(__file__).resolve().parent.parent.parent / "static" / "js" / "sw.js"


@bp.errorhandler(ApiError)
def _api_error(error: ApiError) -> Response:
    return json_error(error.status, error.code, error.message)


@bp.get("/sw.js")
def service_worker() -> ResponseReturnValue:
    """From the site's root, so that its scope is the whole site (a worker under /static/
    could only control /static/); never cached long, so a new version installs soon."""
    response = send_file(SERVICE_WORKER, mimetype="text/javascript", max_age=0)
    response.headers["Service-Worker-Allowed"] = "/"
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/api/push")
@login_required
def push_settings() -> ResponseReturnValue:
    """Whether this Parley sends pushes, the key a browser subscribes with, and whether the
    browser's subscription (``?endpoint=``) is still the current user's: one it kept past a
    logout, or that its push service expired, is not."""
    config = get_services().config
    endpoint = request.args.get("endpoint", "")
    row = None
    if endpoint and len(endpoint) <= PUSH_ENDPOINT_MAX_CHARS and "\x00" not in endpoint:
        row = db.session.execute(
            db.select(PushSubscription).filter_by(endpoint=endpoint, user_id=current_user.id)
        ).scalar_one_or_none()
    return {
        "enabled": config.push_enabled,
        "public_key": config.PARLEY_VAPID_PUBLIC_KEY,
        "subscribed": row is not None,
        "previews": row.previews if row is not None else True,
    }


@bp.post("/api/push/subscriptions")
@login_required
def subscribe() -> ResponseReturnValue:
    """Store this browser's subscription for the current user (a browser that subscribed for
    someone else before is theirs now: one browser, one person signed in)."""
    body = _body({"endpoint", "keys", "previews", "expirationTime"})
    if not get_services().config.push_enabled:
        raise ApiError(404, "push_disabled", "Push notifications are not set up on this server.")
    endpoint = _endpoint(body.get("endpoint"))
    keys = body.get("keys")
    if not isinstance(keys, dict) or set(keys) - {"p256dh", "auth"}:
        raise ApiError(400, "invalid_field", '\'keys\' must be {"p256dh": …, "auth": …}.')
    p256dh = _key(keys.get("p256dh"), "p256dh", 65)
    auth = _key(keys.get("auth"), "auth", 16)
    previews = body.get("previews", True)
    if not isinstance(previews, bool):
        raise ApiError(400, "invalid_field", "'previews' must be true or false.")
    row = db.session.execute(
        db.select(PushSubscription).filter_by(endpoint=endpoint)
    ).scalar_one_or_none()
    if row is None:
        row = PushSubscription(endpoint=endpoint)
        db.session.add(row)
    row.user_id = current_user.id
    row.p256dh, row.auth, row.previews = p256dh, auth, previews
    db.session.commit()
    return {"subscribed": True, "previews": previews}, 201


@bp.delete("/api/push/subscriptions")
@login_required
def unsubscribe() -> ResponseReturnValue:
    """Forget this browser's subscription (only the current user's own)."""
    endpoint = _endpoint(_body({"endpoint"}).get("endpoint"))
    db.session.execute(
        db.delete(PushSubscription).filter_by(endpoint=endpoint, user_id=current_user.id)
    )
    db.session.commit()
    return "", 204


def _body(allowed: set[str]) -> dict[str, Any]:
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "Send the body as application/json.")
    try:
        body = loads(request.get_data(cache=True))
    except InvalidJson as exc:
        raise ApiError(400, "invalid_json", str(exc)) from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "The body must be a JSON object.")
    unknown = set(body) - allowed
    if unknown:
        raise ApiError(400, "unknown_field", f"Unknown field: {sorted(unknown)[0]}.")
    return body


def _endpoint(value: object) -> str:
    """A push service's URL: https to a public host (browsers' push services all are), never
    a private address, which would let a user make Parley post to the servers beside it.
    Outside production a loopback URL is accepted too, for a local stand-in."""
    if not isinstance(value, str) or not value:
        raise ApiError(400, "invalid_field", "'endpoint' must be the subscription's URL.")
    if len(value) > PUSH_ENDPOINT_MAX_CHARS:
        raise ApiError(
            400, "too_long", f"'endpoint' is too long: at most {PUSH_ENDPOINT_MAX_CHARS}."
        )
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        raise ApiError(400, "invalid_field", "'endpoint' is not a URL.") from None
    if not current_app.config.get("PRODUCTION", False) and _is_loopback(host):
        if parts.scheme in ("http", "https"):
            return value
    elif parts.scheme == "https" and host and not _is_private(host):
        return value
    raise ApiError(400, "invalid_field", "'endpoint' must be a push service's https:// URL.")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_private(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host == "localhost" or host.endswith((".local", ".internal", ".localhost"))
    return not address.is_global


def _key(value: object, name: str, size: int) -> str:
    """A base64url key of exactly ``size`` bytes (RFC 8291: a P-256 point, a 16-byte secret)."""
    if isinstance(value, str) and len(value) <= 128:
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        except (ValueError, binascii.Error):
            raw = b""
        if len(raw) == size and (size != 65 or raw[0] == 4):
            return value
    raise ApiError(400, "invalid_field", f"'keys.{name}' must be {size} bytes of base64url.")
