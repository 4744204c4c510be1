"""The Conversations v1 REST routes for the resources themselves: conversations,
participants, messages, users, and who takes part where.

Views parse Twilio's PascalCase form parameters, call the store, and serialise with
`resources`; the shared plumbing (both path forms, paging, the webhook-enabled header) is in
`views`. Configuration and webhook routes are in `config_routes`.
"""

from __future__ import annotations

from flask import Response, request

from twilio_emulator import access, errors, limits, resources
from twilio_emulator.records import ConversationOptions
from twilio_emulator.views import (
    MAX_PAGE,
    MAX_PAGE_SMALL,
    author,
    bp,
    dates,
    deleted,
    form,
    form_date,
    form_int,
    listing,
    query_date,
    reply,
    route,
    scope,
    source,
    store,
)

__all__ = ["bp"]

# -- conversations ------------------------------------------------------------------------


#: The filters of the conversation list, echoed in its page URLs.
LIST_FILTERS = ("StartDate", "EndDate", "State")


def conversation_options() -> ConversationOptions:
    return ConversationOptions(
        messaging_service_sid=form("MessagingServiceSid"),
        email_address=form("Bindings.Email.Address"),
        email_name=form("Bindings.Email.Name"),
        inactive_after=limits.timer("Timers.Inactive", form("Timers.Inactive")),
        closed_after=limits.timer("Timers.Closed", form("Timers.Closed")),
    )


@route("/Conversations", ["POST"])
def create_conversation(service_sid: str | None) -> Response:
    where = scope(service_sid)
    conv = store().create_conversation(
        where.service_sid,
        friendly_name=form("FriendlyName"),
        unique_name=form("UniqueName"),
        attributes=form("Attributes"),
        state=form("State"),
        source=source(),
        options=conversation_options(),
        dates=dates(),
    )
    return reply(resources.conversation(where, conv), 201)


@route("/Conversations", ["GET"])
def list_conversations(service_sid: str | None) -> Response:
    where = scope(service_sid)
    state = request.args.get("State")
    found = store().list_conversations(where.service_sid, state)
    start, end = query_date("StartDate"), query_date("EndDate", end_of_day=True)
    if start or end:  # Twilio then lists the newest first
        found = [c for c in found if (start or c.date_created) <= c.date_created]
        found = [c for c in found if c.date_created <= (end or c.date_created)]
        found.reverse()
    who = access.caller()
    if who is not None:  # an access token sees only the conversations it takes part in
        rows = store().participant_conversations(
            where.service_sid, identity=who.identity, address=None
        )
        mine = {conv.sid for _, conv in rows}
        found = [conv for conv in found if conv.sid in mine]
    return listing(
        "conversations",
        found,
        lambda c: resources.conversation(where, c),
        lambda c: c.seq,
        MAX_PAGE,
        [(name, request.args[name]) for name in LIST_FILTERS if request.args.get(name)],
        descending=bool(start or end),
    )


@route("/Conversations/<sid>", ["GET", "POST", "DELETE"])
def conversation(service_sid: str | None, sid: str) -> Response:
    where = scope(service_sid)
    if request.method == "DELETE":
        store().delete_conversation(where.service_sid, sid, source=source())
        return deleted()
    if request.method == "GET":
        conv = store().get_conversation(where.service_sid, sid)
    else:
        conv = store().update_conversation(
            where.service_sid,
            sid,
            friendly_name=form("FriendlyName"),
            unique_name=form("UniqueName"),
            attributes=form("Attributes"),
            state=form("State"),
            source=source(),
            options=conversation_options(),
            dates=dates(),
        )
    return reply(resources.conversation(where, conv))


# -- participants -------------------------------------------------------------------------


@route("/Conversations/<conversation_sid>/Participants", ["POST"])
def create_participant(service_sid: str | None, conversation_sid: str) -> Response:
    where = scope(service_sid)
    part = store().create_participant(
        where.service_sid,
        conversation_sid,
        identity=form("Identity"),
        address=form("MessagingBinding.Address"),
        proxy_address=form("MessagingBinding.ProxyAddress"),
        attributes=form("Attributes"),
        source=source(),
        role_sid=form("RoleSid"),
        dates=dates(),
        projected_address=form("MessagingBinding.ProjectedAddress"),
    )
    return reply(resources.participant(where, part), 201)


@route("/Conversations/<conversation_sid>/Participants", ["GET"])
def list_participants(service_sid: str | None, conversation_sid: str) -> Response:
    where = scope(service_sid)
    found = store().list_participants(where.service_sid, conversation_sid)
    return listing(
        "participants", found, lambda p: resources.participant(where, p), lambda p: p.seq, MAX_PAGE
    )


@route("/Conversations/<conversation_sid>/Participants/<sid>", ["GET", "POST", "DELETE"])
def participant(service_sid: str | None, conversation_sid: str, sid: str) -> Response:
    where = scope(service_sid)
    if request.method == "DELETE":
        store().delete_participant(where.service_sid, conversation_sid, sid, source=source())
        return deleted()
    if request.method == "GET":
        part = store().get_participant(where.service_sid, conversation_sid, sid)
    else:
        part = store().update_participant(
            where.service_sid,
            conversation_sid,
            sid,
            attributes=form("Attributes"),
            last_read_message_index=form_int("LastReadMessageIndex"),
            source=source(),
            role_sid=form("RoleSid"),
            last_read_timestamp=form_date("LastReadTimestamp"),
            dates=dates(),
            identity=form("Identity"),
            proxy_address=form("MessagingBinding.ProxyAddress"),
            projected_address=form("MessagingBinding.ProjectedAddress"),
        )
    return reply(resources.participant(where, part))


# -- messages -----------------------------------------------------------------------------


@route("/Conversations/<conversation_sid>/Messages", ["POST"])
def create_message(service_sid: str | None, conversation_sid: str) -> Response:
    where = scope(service_sid)
    limits.message_content(form("ContentSid"), form("ContentVariables"))
    msg = store().create_message(
        where.service_sid,
        conversation_sid,
        author=author(),
        body=form("Body"),
        attributes=form("Attributes"),
        source=source(),
        date_created=form_date("DateCreated"),
        date_updated=form_date("DateUpdated"),
        media_sids=tuple(sid for sid in request.form.getlist("MediaSid") if sid),
    )
    return reply(resources.message(where, msg), 201)


@route("/Conversations/<conversation_sid>/Messages", ["GET"])
def list_messages(service_sid: str | None, conversation_sid: str) -> Response:
    where = scope(service_sid)
    order = (request.args.get("Order") or "asc").lower()
    if order not in ("asc", "desc"):
        raise errors.bad_request(errors.INVALID_PARAMETER, "Order must be asc or desc")
    found = store().list_messages(where.service_sid, conversation_sid)
    if order == "desc":
        found.reverse()
    return listing(
        "messages",
        found,
        lambda m: resources.message(where, m),
        lambda m: m.index,
        MAX_PAGE,
        [("Order", order)] if "Order" in request.args else None,
        descending=order == "desc",
    )


@route("/Conversations/<conversation_sid>/Messages/<sid>", ["GET", "POST", "DELETE"])
def message(service_sid: str | None, conversation_sid: str, sid: str) -> Response:
    where = scope(service_sid)
    if request.method == "DELETE":
        store().delete_message(where.service_sid, conversation_sid, sid, source=source())
        return deleted()
    if request.method == "GET":
        msg = store().get_message(where.service_sid, conversation_sid, sid)
    else:
        msg = store().update_message(
            where.service_sid,
            conversation_sid,
            sid,
            author=None if access.caller() else form("Author"),
            body=form("Body"),
            attributes=form("Attributes"),
            source=source(),
            dates=dates(),
        )
    return reply(resources.message(where, msg))


@route("/Conversations/<conversation_sid>/Messages/<message_sid>/Receipts", ["GET"])
def list_receipts(service_sid: str | None, conversation_sid: str, message_sid: str) -> Response:
    where = scope(service_sid)
    found = store().list_receipts(where.service_sid, conversation_sid, message_sid)
    return listing(
        "delivery_receipts", found, lambda r: resources.receipt(where, r), lambda r: r.seq, MAX_PAGE
    )


@route("/Conversations/<conversation_sid>/Messages/<message_sid>/Receipts/<sid>", ["GET"])
def receipt(service_sid: str | None, conversation_sid: str, message_sid: str, sid: str) -> Response:
    where = scope(service_sid)
    found = store().get_receipt(where.service_sid, conversation_sid, message_sid, sid)
    return reply(resources.receipt(where, found))


# -- users and who takes part where -------------------------------------------------------


@route("/ParticipantConversations", ["GET"])
def list_participant_conversations(service_sid: str | None) -> Response:
    where = scope(service_sid)
    identity, address = request.args.get("Identity"), request.args.get("Address")
    rows = store().participant_conversations(where.service_sid, identity=identity, address=address)
    filters = [("Identity", identity)] if identity else [("Address", address or "")]
    return listing(
        "conversations",
        rows,
        lambda row: resources.participant_conversation(where, *row),
        lambda row: row[1].seq,
        MAX_PAGE_SMALL,
        filters,
    )


@route("/Users", ["POST"])
def create_user(service_sid: str | None) -> Response:
    where = scope(service_sid)
    user = store().create_user(
        where.service_sid,
        identity=form("Identity") or "",
        friendly_name=form("FriendlyName"),
        attributes=form("Attributes"),
        role_sid=form("RoleSid"),
        source=source(),
    )
    return reply(resources.user(where, user), 201)


@route("/Users", ["GET"])
def list_users(service_sid: str | None) -> Response:
    where = scope(service_sid)
    found = store().list_users(where.service_sid)
    return listing(
        "users", found, lambda u: resources.user(where, u), lambda u: u.seq, MAX_PAGE_SMALL
    )


@route("/Users/<sid>", ["GET", "POST", "DELETE"])
def user(service_sid: str | None, sid: str) -> Response:
    where = scope(service_sid)
    if request.method == "DELETE":
        store().delete_user(where.service_sid, sid)
        return deleted()
    if request.method == "GET":
        found = store().get_user(where.service_sid, sid)
    else:
        found = store().update_user(
            where.service_sid,
            sid,
            friendly_name=form("FriendlyName"),
            attributes=form("Attributes"),
            role_sid=form("RoleSid"),
            source=source(),
        )
    return reply(resources.user(where, found))


@route("/Users/<user_sid>/Conversations/<conversation_sid>", ["GET", "POST"])
def user_conversation(service_sid: str | None, user_sid: str, conversation_sid: str) -> Response:
    """Fetch or update one User Conversation: ``NotificationLevel`` is the user's own; the read
    horizon is the participant's (the same change, with its webhook, as on the participant)."""
    where = scope(service_sid)
    if request.method == "POST":
        level = form("NotificationLevel")
        if level:
            store().set_notification_level(where.service_sid, user_sid, conversation_sid, level)
        index, read_at = form_int("LastReadMessageIndex"), form_date("LastReadTimestamp")
        if index is not None or read_at is not None:
            _, part, _, _ = store().user_conversation(where.service_sid, user_sid, conversation_sid)
            store().update_participant(
                where.service_sid,
                conversation_sid,
                part.sid,
                attributes=None,
                last_read_message_index=index,
                last_read_timestamp=read_at,
                source=source(),
            )
    found = store().user_conversation(where.service_sid, user_sid, conversation_sid)
    return reply(resources.user_conversation(where, *found))


@route("/Users/<user_sid>/Conversations", ["GET"])
def list_user_conversations(service_sid: str | None, user_sid: str) -> Response:
    where = scope(service_sid)
    found, rows = store().user_conversations(where.service_sid, user_sid)
    return listing(
        "conversations",
        rows,
        lambda row: resources.user_conversation(where, found, *row),
        lambda row: row[1].seq,
        MAX_PAGE_SMALL,
    )
