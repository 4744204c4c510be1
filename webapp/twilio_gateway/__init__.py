"""The only code that talks to Twilio: the REST client, conversation operations, the records
they return, the one error they raise, access tokens.

Live and emulator mode differ in one place only: the HTTP client built in :mod:`.client`.
"""

from webapp.twilio_gateway.conversations import ConversationsGateway, is_conversation_sid
from webapp.twilio_gateway.errors import UNREACHABLE, GatewayError
from webapp.twilio_gateway.records import ConversationRecord, MessageRecord, ParticipantRecord
from webapp.twilio_gateway.tokens import issue_access_token

__all__ = [
    "UNREACHABLE",
    "ConversationRecord",
    "ConversationsGateway",
    "GatewayError",
    "MessageRecord",
    "ParticipantRecord",
    "is_conversation_sid",
    "issue_access_token",
]
