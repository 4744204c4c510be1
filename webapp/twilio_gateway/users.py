"""Twilio's User resource: the ``friendly_name`` other Twilio clients (the host's own SDK
pages) show for an identity, which the host may set ahead of time and Parley keeps in step.

Users are addressed by identity in the path (Twilio takes a User SID or an identity there).
The ``twilio`` library puts the value into the path as it is, so Parley escapes it: an
identity such as ``user|42`` or ``team/7`` must stay one path segment.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from twilio.base.exceptions import TwilioRestException

from webapp.twilio_gateway.conversations import ConversationsGateway
from webapp.twilio_gateway.errors import GatewayError, twilio_errors

USER_EXISTS = 50201
log = logging.getLogger(__name__)


def _segment(identity: str) -> str:
    return quote(identity, safe="")


def user_friendly_name(gateway: ConversationsGateway, identity: str) -> str | None:
    """The identity's ``friendly_name`` in Twilio; ``None`` when Twilio has no such user or
    no name for it. Raises :class:`GatewayError` when Twilio cannot answer."""
    try:
        with twilio_errors():
            user = gateway.service.users(_segment(identity)).fetch()
    except GatewayError as error:
        if error.not_found:
            return None
        raise
    return user.friendly_name or None


@twilio_errors()
def set_user_friendly_name(gateway: ConversationsGateway, identity: str, name: str) -> None:
    """Give the identity's Twilio User this ``friendly_name``, creating the User when Twilio
    has none yet (it makes one only when the identity first joins a conversation)."""
    users = gateway.service.users
    try:
        users(_segment(identity)).update(friendly_name=name)
        return
    except TwilioRestException as exc:
        if exc.status != 404:
            raise
    try:
        users.create(identity=identity, friendly_name=name)
    except TwilioRestException as exc:
        if exc.code != USER_EXISTS:
            raise
        # Made by a join in between (named at the next sign-in), or an identity the path
        # cannot carry: a server that decodes %2F before routing finds no User at "a/b".
        log.warning("Twilio User of %r not renamed: it exists, yet was not found", identity)


@twilio_errors()
def set_notification_level(
    gateway: ConversationsGateway, identity: str, conversation_sid: str, *, muted: bool
) -> None:
    """Set the identity's ``NotificationLevel`` on its User Conversation (``muted`` or
    ``default``), which Twilio's own push notifications to its SDK clients honour."""
    level = "muted" if muted else "default"
    gateway.service.users(_segment(identity)).user_conversations(conversation_sid).update(
        notification_level=level
    )
