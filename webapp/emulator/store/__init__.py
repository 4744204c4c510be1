"""The emulator's in-memory state: one store, one lock, one module per resource."""

from __future__ import annotations

from webapp.emulator.store.base import Publish
from webapp.emulator.store.conversations import ConversationOperations
from webapp.emulator.store.memberships import MembershipOperations
from webapp.emulator.store.messages import MessageOperations
from webapp.emulator.store.participants import ParticipantOperations

__all__ = ["Publish", "Store"]


class Store(ConversationOperations, ParticipantOperations, MessageOperations, MembershipOperations):
    """Conversations, participants, messages and users of the emulator's single service."""
