"""User operations: create, fetch by SID or identity, list, update, delete.

Users also appear on their own when their identity first joins a conversation (Twilio does the
same). Deleting a user leaves the participants that identity holds in place; joining again
creates a fresh user. `onUserAdded`/`onUserUpdated` fire for REST calls with the
webhook-enabled header, and `onUserUpdate` is screened like other pre-events.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from twilio_emulator import errors, limits, sids
from twilio_emulator.events import ADDED, UPDATE, UPDATED, user_event
from twilio_emulator.records import User, utcnow
from twilio_emulator.store.base import StoreBase


class UserOperations(StoreBase):
    """Identities are unique within the service."""

    def create_user(
        self,
        service_sid: str,
        *,
        identity: str,
        friendly_name: str | None,
        attributes: str | None,
        role_sid: str | None = None,
        source: str | None = None,
    ) -> User:
        limits.identity(identity)
        _check_user_fields(friendly_name, attributes, role_sid)
        with self._mutation():
            self._service(service_sid)
            if self._user_by_identity(service_sid, identity) is not None:
                raise errors.conflict(errors.USER_EXISTS, f"User already exists: {identity}")
            user = self._user_for(service_sid, identity)
            user.friendly_name = friendly_name
            user.attributes = attributes or "{}"
            user.role_sid = role_sid
            if source:
                self._emit(user_event(ADDED, user, source, user.date_created))
            return replace(user)

    def get_user(self, service_sid: str, ref: str) -> User:
        with self._lock:
            return replace(self._user(service_sid, ref))

    def list_users(self, service_sid: str) -> list[User]:
        with self._lock:
            self._service(service_sid)
            found = [replace(u) for u in self._users.values() if u.service_sid == service_sid]
        return sorted(found, key=lambda u: u.seq)

    def update_user(
        self,
        service_sid: str,
        ref: str,
        *,
        friendly_name: str | None,
        attributes: str | None,
        role_sid: str | None,
        source: str | None,
    ) -> User:
        _check_user_fields(friendly_name, attributes, role_sid)
        changes = _given(friendly_name=friendly_name, attributes=attributes, role_sid=role_sid)
        if source:
            with self._lock:
                proposed = replace(self._user(service_sid, ref), **changes, date_updated=utcnow())
            self._screen(user_event(UPDATE, proposed, source, proposed.date_updated), proposed)
        with self._mutation():
            user = self._user(service_sid, ref)
            for name, value in changes.items():
                setattr(user, name, value)
            user.date_updated = utcnow()
            if source:
                self._emit(user_event(UPDATED, user, source, user.date_updated))
            return replace(user)

    def delete_user(self, service_sid: str, ref: str) -> None:
        with self._mutation():
            del self._users[self._user(service_sid, ref).sid]


def _check_user_fields(
    friendly_name: str | None, attributes: str | None, role_sid: str | None
) -> None:
    limits.friendly_name(friendly_name)
    limits.attributes(attributes, limits.USER_ATTRIBUTES_BYTES)
    if role_sid is not None and not sids.looks_like("RL", role_sid):
        raise errors.bad_request(errors.INVALID_PARAMETER, f"Invalid Role SID: {role_sid}")


def _given(**values: str | None) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}
