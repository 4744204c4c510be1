"""Whose name is what: the one place that turns identities into the names people read, and
keeps Twilio's User ``friendly_name`` in step with Parley's display names.

:func:`names_for` answers for a whole page at once (the API puts a ``names`` map beside what
it returns, see :mod:`webapp.names.resolver`); :func:`publish_name` runs after a sign-in or a
registration (see :mod:`webapp.names.sync`).
"""

from __future__ import annotations

from collections.abc import Iterable

from webapp.names.sync import publish_name
from webapp.services import get_services


def names_for(identities: Iterable[str | None]) -> dict[str, str]:
    """``{identity: display name}`` for these identities (phones and ``None`` left out)."""
    return get_services().names.names(identities)


__all__ = ["names_for", "publish_name"]
