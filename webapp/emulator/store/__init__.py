"""The emulator's in-memory state: one store, one lock, one module per resource."""

from __future__ import annotations

from webapp.emulator.store.base import Hooks
from webapp.emulator.store.configuration import ConfigurationOperations
from webapp.emulator.store.conversations import ConversationOperations
from webapp.emulator.store.memberships import MembershipOperations
from webapp.emulator.store.messages import MessageOperations
from webapp.emulator.store.participants import ParticipantOperations
from webapp.emulator.store.scoped_webhooks import ScopedWebhookOperations, WebhookSpec
from webapp.emulator.store.snapshot import SnapshotOperations
from webapp.emulator.store.users import UserOperations

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
