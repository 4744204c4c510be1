"""How Twilio's failures reach Parley: one :class:`GatewayError`, made in one place.

The ``twilio`` library raises :class:`~twilio.base.exceptions.TwilioException` (and its
subclasses) for Twilio's refusals and for no answer at all; :func:`twilio_errors` turns each
into a :class:`GatewayError` carrying the status and code the API answers with. Anything else,
such as :class:`~webapp.deadline.DeadlineExceeded`, passes through untouched: the webhook needs
it as it is, to answer Twilio in time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from twilio.base.exceptions import TwilioException, TwilioRestException

from webapp.twilio_gateway.client import TwilioUnreachable

#: Twilio error codes Parley handles on purpose.
UNIQUE_NAME_TAKEN = 50353
PARTICIPANT_EXISTS = 50433
#: SMS participants: this (phone, Twilio number) pair is already in an active conversation;
#: the phone is the Twilio number itself; too many non-chat participants.
BINDING_PAIR_IN_USE = 50416
ADDRESS_EQUALS_PROXY = 50409
NON_CHAT_PARTICIPANTS_LIMIT = 50422
NOT_FOUND = 20404
#: ``GatewayError.status`` when Twilio (or the emulator) could not be reached at all: no
#: answer, so it may work later (and the commands do not blame the credentials for it).
UNREACHABLE = 503


class GatewayError(Exception):
    """Twilio refused or could not be reached; carries what the API needs to answer clearly."""

    def __init__(self, message: str, status: int = 502, code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code

    @property
    def not_found(self) -> bool:
        """Twilio does not know the resource (deleted, or never existed): asking again will
        not help, unlike a timeout, a 5xx or a 429."""
        return self.status == 404

    @classmethod
    def from_twilio(cls, exc: TwilioException) -> GatewayError:
        if isinstance(exc, TwilioUnreachable):
            return cls(str(exc), UNREACHABLE)
        if isinstance(exc, TwilioRestException):
            status = exc.status if 400 <= exc.status < 500 else 502
            return cls(str(exc.msg or "Twilio refused the request."), status, exc.code)
        # twilio-python raises a bare TwilioException("Unable to fetch page", response) when a
        # list page is not a 200: keep its status, so an unknown conversation stays a 404.
        response = exc.args[1] if len(exc.args) > 1 else None
        status = getattr(response, "status_code", None)
        if isinstance(status, int) and 400 <= status < 500:
            return cls("Twilio refused the request.", status)
        return cls("Twilio could not be reached.", 502)


@contextmanager
def twilio_errors(action: str | None = None) -> Iterator[None]:
    """Raise what the ``twilio`` library raises inside the block as a :class:`GatewayError`
    (its message prefixed with ``action``, for the commands that say what they were doing).

    Also a decorator (``@twilio_errors()``), as every ``contextmanager`` is.
    """
    try:
        yield
    except TwilioException as exc:
        error = GatewayError.from_twilio(exc)
        if action:
            error = GatewayError(f"{action}: {error.message}", error.status, error.code)
        raise error from exc
