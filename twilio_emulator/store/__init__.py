"""The emulator's in-memory state: one store, one lock, one module per resource."""

from __future__ import annotations

from twilio_emulator.store.base import Hooks
from twilio_emulator.store.configuration import ConfigurationOperations
from twilio_emulator.store.conversations import ConversationOperations
from twilio_emulator.store.memberships import MembershipOperations
from twilio_emulator.store.messages import MessageOperations
from twilio_emulator.store.participants import ParticipantOperations
from twilio_emulator.store.scoped_webhooks import ScopedWebhookOperations, WebhookSpec
from twilio_emulator.store.snapshot import SnapshotOperations
from twilio_emulator.store.users import UserOperations

__all__ = ["Hooks", "Store", "WebhookSpec"]


class Store(
    ConfigurationOperations,
    ConversationOperations,
    ParticipantOperations,
    MessageOperations,
    ScopedWebhookOperations,
    UserOperations,
    MembershipOperations,
    SnapshotOperations,
):
    """Conversations, participants, messages, users and webhook configuration of the
    emulator's services (its default one and any created), and the account's global
    configuration."""
