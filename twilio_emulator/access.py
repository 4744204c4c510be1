"""What a caller authenticated by an access token (`X-Twilio-Token`) may do: act as its
identity inside the conversations it takes part in, as Twilio's Conversations SDKs do.

Basic-auth callers (account or API key) may do everything. A token caller may:

- list conversations (it sees only its own);
- fetch and update a conversation it is a participant of; anything else about a conversation
  it is not in answers 403 with 50430 ("Participant is not a member of conversation", what
  Twilio answers an SDK there); a conversation that does not exist is 404 as usual;
- list, fetch and add participants there; update or remove only its own participant;
- list, fetch and send messages there (a message it sends has `Author` = its identity, whatever
  `Author` says); edit or delete only its own messages.

Everything else (deleting conversations, services and configuration, users, webhooks, the
`/_dev` endpoints) answers 403 with 20403: those are server-side operations, not an SDK's.
"""

from __future__ import annotations

from flask import g, request

from twilio_emulator import errors
from twilio_emulator.access_tokens import TokenCaller

NOT_A_PARTICIPANT = 50430
FORBIDDEN = 20403

#: View name -> the methods a token caller may use, for views inside one conversation.
IN_CONVERSATION = {
    "conversation": {"GET", "POST"},
    "create_participant": {"POST"},
    "list_participants": {"GET"},
    "participant": {"GET", "POST", "DELETE"},
    "create_message": {"POST"},
    "list_messages": {"GET"},
    "message": {"GET", "POST", "DELETE"},
    "list_receipts": {"GET"},
    "receipt": {"GET"},
}
TOP_LEVEL = {"list_conversations": {"GET"}}


def caller() -> TokenCaller | None:
    """The token caller of this request, or None for basic auth (full access)."""
    found: TokenCaller | None = g.get("emulator_token_caller")
    return found


def _forbidden(message: str) -> errors.TwilioError:
    return errors.TwilioError(403, FORBIDDEN, message)


def _view_name() -> str:
    endpoint = request.endpoint or ""
    return endpoint.rsplit(".", 1)[-1].removesuffix("_in_service")


def authorize(who: TokenCaller) -> None:
    """Refuse this request unless a token caller may make it (see the module's docstring)."""
    from twilio_emulator.views import store  # views imports the blueprint this runs before

    if request.url_rule is None:
        return  # no such route: the 404 follows
    name, method = _view_name(), request.method
    args = request.view_args or {}
    if method in TOP_LEVEL.get(name, set()):
        return
    if method not in IN_CONVERSATION.get(name, set()):
        raise _forbidden(f"An access token may not {method} {request.path}")
    conversation_ref = args.get("conversation_sid") or args["sid"]
    conv = store().get_conversation(who.service_sid, conversation_ref)  # 404 if missing
    members = store().list_participants(who.service_sid, conv.sid)
    if not any(part.identity == who.identity for part in members):
        raise errors.TwilioError(
            403, NOT_A_PARTICIPANT, "Participant is not a member of conversation"
        )
    if method in ("POST", "DELETE") and name == "participant":
        part = store().get_participant(who.service_sid, conv.sid, args["sid"])
        if part.identity != who.identity:
            raise _forbidden("An access token may change only its own participant")
    if method in ("POST", "DELETE") and name == "message":
        msg = store().get_message(who.service_sid, conv.sid, args["sid"])
        if msg.author != who.identity:
            raise _forbidden("An access token may change only its own messages")
