"""The Conversations v1 REST routes the emulator serves.

Each route exists in Twilio's two path forms, registered once by `@route`: service-scoped
(`/v1/Services/{ChatServiceSid}/...`) and default-service (`/v1/...`, the emulator's single
service). Views parse Twilio's PascalCase form parameters, call the store, and serialise with
`resources`. A change fires webhooks only with `X-Twilio-Webhook-Enabled: true`, as on Twilio.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from webapp.emulator import errors, resources
from webapp.emulator.paging import envelope, page_request, paginate
from webapp.emulator.resources import Json, Scope
from webapp.emulator.state import EmulatorState
from webapp.emulator.store import Store

bp = Blueprint("twilio_conversations", __name__)
View = Callable[..., Any]

# Maximum PageSize per list, from the OpenAPI spec's `PageSize` parameter of each operation.
MAX_PAGE = 100
MAX_PAGE_SMALL = 50


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


def _state() -> EmulatorState:
    state: EmulatorState = current_app.extensions["twilio_emulator"]
    return state


def _store() -> Store:
    return _state().store


def _scope(service_sid: str | None) -> Scope:
    settings = _state().settings
    return Scope(settings.account_sid, service_sid or settings.service_sid, service_sid is not None)


def _source() -> str | None:
    """`API` when the caller asked for webhooks, else None (no webhook fires)."""
    enabled = request.headers.get("X-Twilio-Webhook-Enabled", "").lower() == "true"
    return "API" if enabled else None


def _form(name: str) -> str | None:
    return request.form.get(name)


def _form_int(name: str) -> int | None:
    raw = request.form.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise errors.bad_request(errors.INVALID_PARAMETER, f"{name} must be an integer") from None


def _reply(body: Json, status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response


def _deleted() -> Response:
    return Response(status=204)


def _list(
    key: str,
    items: list[Any],
    serialise: Callable[[Any], Json],
    sort_key: Callable[[Any], int],
    max_size: int,
    filters: list[tuple[str, str]] | None = None,
    descending: bool = False,
) -> Response:
    page = page_request(request.args, max_size)
    chosen, next_token, previous_token = paginate(items, page, sort_key, descending)
    records = [serialise(item) for item in chosen]
    return _reply(
        envelope(key, records, page, request.path, filters or [], next_token, previous_token)
    )


# -- services -----------------------------------------------------------------------------


@bp.get("/v1/Services")
def list_services() -> Response:
    scope = _scope(None)
    services = _store().list_services()  # the emulator has exactly one service
    return _list("services", services, lambda s: resources.service(scope, s), lambda s: 0, MAX_PAGE)


@bp.get("/v1/Services/<sid>")
def fetch_service(sid: str) -> Response:
    return _reply(resources.service(_scope(None), _store().get_service(sid)))


@bp.route("/v1/Services/<service_sid>/Configuration/Webhooks", methods=["GET", "POST"])
def service_webhooks(service_sid: str) -> Response:
    store = _store()
    if request.method == "GET":
        config = store.get_webhooks(service_sid)
    else:
        filters = request.form.getlist("Filters")
        config = store.update_webhooks(
            service_sid,
            pre_webhook_url=_form("PreWebhookUrl"),
            post_webhook_url=_form("PostWebhookUrl"),
            filters=tuple(filters) if "Filters" in request.form else None,
            method=_form("Method"),
        )
    return _reply(resources.webhook_config(_scope(service_sid), config))


# -- conversations ------------------------------------------------------------------------


@route("/Conversations", ["POST"])
def create_conversation(service_sid: str | None) -> Response:
    scope = _scope(service_sid)
    conv = _store().create_conversation(
        scope.service_sid,
        friendly_name=_form("FriendlyName"),
        unique_name=_form("UniqueName"),
        attributes=_form("Attributes"),
        state=_form("State"),
        source=_source(),
    )
    return _reply(resources.conversation(scope, conv), 201)


@route("/Conversations", ["GET"])
def list_conversations(service_sid: str | None) -> Response:
    scope = _scope(service_sid)
    state = request.args.get("State")
    found = _store().list_conversations(scope.service_sid, state)
    return _list(
        "conversations",
        found,
        lambda c: resources.conversation(scope, c),
        lambda c: c.seq,
        MAX_PAGE,
        [("State", state)] if state else None,
    )


@route("/Conversations/<sid>", ["GET", "POST", "DELETE"])
def conversation(service_sid: str | None, sid: str) -> Response:
    scope, store = _scope(service_sid), _store()
    if request.method == "DELETE":
        store.delete_conversation(scope.service_sid, sid, source=_source())
        return _deleted()
    if request.method == "GET":
        conv = store.get_conversation(scope.service_sid, sid)
    else:
        conv = store.update_conversation(
            scope.service_sid,
            sid,
            friendly_name=_form("FriendlyName"),
            unique_name=_form("UniqueName"),
            attributes=_form("Attributes"),
            state=_form("State"),
            source=_source(),
        )
    return _reply(resources.conversation(scope, conv))


# -- participants -------------------------------------------------------------------------


@route("/Conversations/<conversation_sid>/Participants", ["POST"])
def create_participant(service_sid: str | None, conversation_sid: str) -> Response:
    scope = _scope(service_sid)
    part = _store().create_participant(
        scope.service_sid,
        conversation_sid,
        identity=_form("Identity"),
        address=_form("MessagingBinding.Address"),
        proxy_address=_form("MessagingBinding.ProxyAddress"),
        attributes=_form("Attributes"),
        source=_source(),
    )
    return _reply(resources.participant(scope, part), 201)


@route("/Conversations/<conversation_sid>/Participants", ["GET"])
def list_participants(service_sid: str | None, conversation_sid: str) -> Response:
    scope = _scope(service_sid)
    found = _store().list_participants(scope.service_sid, conversation_sid)
    return _list(
        "participants",
        found,
        lambda p: resources.participant(scope, p),
        lambda p: p.seq,
        MAX_PAGE,
    )


@route("/Conversations/<conversation_sid>/Participants/<sid>", ["GET", "POST", "DELETE"])
def participant(service_sid: str | None, conversation_sid: str, sid: str) -> Response:
    scope, store = _scope(service_sid), _store()
    if request.method == "DELETE":
        store.delete_participant(scope.service_sid, conversation_sid, sid, source=_source())
        return _deleted()
    if request.method == "GET":
        part = store.get_participant(scope.service_sid, conversation_sid, sid)
    else:
        part = store.update_participant(
            scope.service_sid,
            conversation_sid,
            sid,
            attributes=_form("Attributes"),
            last_read_message_index=_form_int("LastReadMessageIndex"),
            source=_source(),
        )
    return _reply(resources.participant(scope, part))


# -- messages -----------------------------------------------------------------------------


@route("/Conversations/<conversation_sid>/Messages", ["POST"])
def create_message(service_sid: str | None, conversation_sid: str) -> Response:
    scope = _scope(service_sid)
    msg = _store().create_message(
        scope.service_sid,
        conversation_sid,
        author=_form("Author"),
        body=_form("Body"),
        attributes=_form("Attributes"),
        source=_source(),
    )
    return _reply(resources.message(scope, msg), 201)


@route("/Conversations/<conversation_sid>/Messages", ["GET"])
def list_messages(service_sid: str | None, conversation_sid: str) -> Response:
    scope = _scope(service_sid)
    order = (request.args.get("Order") or "asc").lower()
    if order not in ("asc", "desc"):
        raise errors.bad_request(errors.INVALID_PARAMETER, "Order must be asc or desc")
    found = _store().list_messages(scope.service_sid, conversation_sid)
    if order == "desc":
        found.reverse()
    return _list(
        "messages",
        found,
        lambda m: resources.message(scope, m),
        lambda m: m.index,
        MAX_PAGE,
        [("Order", order)] if "Order" in request.args else None,
        descending=order == "desc",
    )


@route("/Conversations/<conversation_sid>/Messages/<sid>", ["GET", "POST", "DELETE"])
def message(service_sid: str | None, conversation_sid: str, sid: str) -> Response:
    scope, store = _scope(service_sid), _store()
    if request.method == "DELETE":
        store.delete_message(scope.service_sid, conversation_sid, sid, source=_source())
        return _deleted()
    if request.method == "GET":
        msg = store.get_message(scope.service_sid, conversation_sid, sid)
    else:
        msg = store.update_message(
            scope.service_sid,
            conversation_sid,
            sid,
            author=_form("Author"),
            body=_form("Body"),
            attributes=_form("Attributes"),
            source=_source(),
        )
    return _reply(resources.message(scope, msg))


# -- who takes part where -----------------------------------------------------------------


@route("/ParticipantConversations", ["GET"])
def list_participant_conversations(service_sid: str | None) -> Response:
    scope = _scope(service_sid)
    identity, address = request.args.get("Identity"), request.args.get("Address")
    rows = _store().participant_conversations(scope.service_sid, identity=identity, address=address)
    filters = [("Identity", identity)] if identity else [("Address", address or "")]
    return _list(
        "conversations",
        rows,
        lambda row: resources.participant_conversation(scope, *row),
        lambda row: row[1].seq,
        MAX_PAGE_SMALL,
        filters,
    )


@route("/Users", ["POST"])
def create_user(service_sid: str | None) -> Response:
    scope = _scope(service_sid)
    user = _store().create_user(
        scope.service_sid,
        identity=_form("Identity") or "",
        friendly_name=_form("FriendlyName"),
        attributes=_form("Attributes"),
    )
    return _reply(resources.user(scope, user), 201)


@route("/Users", ["GET"])
def list_users(service_sid: str | None) -> Response:
    scope = _scope(service_sid)
    found = _store().list_users(scope.service_sid)
    return _list(
        "users", found, lambda u: resources.user(scope, u), lambda u: u.seq, MAX_PAGE_SMALL
    )


@route("/Users/<sid>", ["GET"])
def fetch_user(service_sid: str | None, sid: str) -> Response:
    scope = _scope(service_sid)
    return _reply(resources.user(scope, _store().get_user(scope.service_sid, sid)))


@route("/Users/<user_sid>/Conversations", ["GET"])
def list_user_conversations(service_sid: str | None, user_sid: str) -> Response:
    scope = _scope(service_sid)
    user, rows = _store().user_conversations(scope.service_sid, user_sid)
    return _list(
        "conversations",
        rows,
        lambda row: resources.user_conversation(scope, user, *row),
        lambda row: row[1].seq,
        MAX_PAGE_SMALL,
    )
