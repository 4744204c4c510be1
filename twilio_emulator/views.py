"""What every REST view shares: the blueprint, Twilio's two path forms, parameter parsing, and
the JSON replies (single resource, deletion, paged list).

Each route exists in Twilio's two path forms, registered once by `@route`: service-scoped
(`/v1/Services/{ChatServiceSid}/...`) and default-service (`/v1/...`, the emulator's default
service). A change fires webhooks only with `X-Twilio-Webhook-Enabled: true`, as on Twilio.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from twilio_emulator import access, errors, params
from twilio_emulator.paging import envelope, page_request, paginate
from twilio_emulator.records import Dates
from twilio_emulator.resources import Json, Scope
from twilio_emulator.state import EmulatorState
from twilio_emulator.store import Store

bp = Blueprint("twilio_conversations", __name__)
params.init_blueprint(bp)  # every form and query parameter checked against Twilio's spec
View = Callable[..., Any]

# Maximum PageSize per list, from the OpenAPI spec's `PageSize` parameter of each operation.
MAX_PAGE = 100
MAX_PAGE_SMALL = 50
MAX_PAGE_WEBHOOKS = 5


def route(rule: str, methods: list[str]) -> Callable[[View], View]:
    """Register a view for both path forms; it receives `service_sid=None` for the default."""

    def register(view: View) -> View:
        name = view.__name__
        bp.add_url_rule(
            f"/v1/Services/<service_sid>{rule}", f"{name}_in_service", view, methods=methods
        )
        bp.add_url_rule(f"/v1{rule}", name, view, methods=methods, defaults={"service_sid": None})
        return view

    return register


def state() -> EmulatorState:
    emulator: EmulatorState = current_app.extensions["twilio_emulator"]
    return emulator


def store() -> Store:
    return state().store


def scope(service_sid: str | None) -> Scope:
    settings = state().settings
    return Scope(settings.account_sid, service_sid or settings.service_sid, service_sid is not None)


def source() -> str | None:
    """`API` when the caller asked for webhooks, else None (no webhook fires); `SDK` for an
    access-token caller, whose changes always fire webhooks, as an SDK client's do."""
    if access.caller() is not None:
        return "SDK"
    enabled = request.headers.get("X-Twilio-Webhook-Enabled", "").lower() == "true"
    return "API" if enabled else None


def author() -> str | None:
    """The `Author` of a new message: an access-token caller's identity, whatever it sent."""
    who = access.caller()
    return who.identity if who is not None else form("Author")


def form(name: str) -> str | None:
    return request.form.get(name)


def form_list(name: str) -> tuple[str, ...] | None:
    """A repeated parameter (`Filters=a&Filters=b`); None when it was not sent at all."""
    return tuple(request.form.getlist(name)) if name in request.form else None


def form_int(name: str) -> int | None:
    raw = request.form.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise errors.bad_request(errors.INVALID_PARAMETER, f"{name} must be an integer") from None


def form_bool(name: str) -> bool | None:
    raw = request.form.get(name)
    if raw is None or raw == "":
        return None
    if raw.lower() not in ("true", "false"):
        raise errors.bad_request(errors.INVALID_PARAMETER, f"{name} must be true or false")
    return raw.lower() == "true"


def form_date(name: str) -> datetime | None:
    """An ISO 8601 date-time with a time zone (`params` has refused any other), in UTC."""
    return params.parse_date_time(request.form.get(name) or "")


def dates() -> Dates:
    return Dates(form_date("DateCreated"), form_date("DateUpdated"))


def query_date(name: str, *, end_of_day: bool = False) -> datetime | None:
    """A date filter (`StartDate`, `EndDate`); a bare date as the `EndDate` covers its day."""
    raw = request.args.get(name) or ""
    value = params.parse_date_time(raw)
    if value is not None and end_of_day and params.DATE_ONLY.fullmatch(raw):
        return value + timedelta(days=1, microseconds=-1)
    return value


def reply(body: Json, status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response


def deleted() -> Response:
    return Response(status=204)


def listing(
    key: str,
    items: list[Any],
    serialise: Callable[[Any], Json],
    sort_key: Callable[[Any], int],
    max_size: int,
    filters: list[tuple[str, str]] | None = None,
    descending: bool = False,
) -> Response:
    """One page of `items` in Twilio's list envelope."""
    page = page_request(request.args, max_size)
    chosen, next_token, previous_token = paginate(items, page, sort_key, descending)
    records = [serialise(item) for item in chosen]
    return reply(
        envelope(key, records, page, request.path, filters or [], next_token, previous_token)
    )
