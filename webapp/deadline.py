"""One time limit for everything a request waits on, however deep the call that waits.

Twilio gives up on a webhook after 5 seconds, so the webhook sets a deadline of a few seconds
(:func:`within`) and every Twilio call and Redis command it makes, through the gateway's HTTP
client and the Redis pool, waits no longer than the time left (:func:`capped`) and is not
started once it is gone (:func:`check`). The deadline lives in a context variable: each
gevent greenlet (each request) has a context of its own, so one request's deadline never
shortens another's, and code outside any deadline (streams, the API) keeps its own timeouts.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

#: The shortest wait a capped timeout gives once the deadline is (nearly) gone: a timeout of 0
#: would make a socket non-blocking instead of failing it at once.
MIN_WAIT = 0.001

_deadline: ContextVar[float | None] = ContextVar("parley_deadline", default=None)


class DeadlineExceeded(Exception):
    """The request's time is up: it must answer now (a webhook answers 503, so Twilio retries)."""


@contextmanager
def within(seconds: float) -> Iterator[None]:
    """Everything called inside the block shares one deadline, ``seconds`` from now."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def time_left() -> float | None:
    """Seconds until the current deadline (negative once past), or None without one."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


def expired() -> bool:
    """True once less than :data:`MIN_WAIT` is left: a wait cut to the deadline that ends a
    hair early still counts as having reached it."""
    left = time_left()
    return left is not None and left < MIN_WAIT


def check() -> None:
    """Raise :class:`DeadlineExceeded` if the deadline has passed: start nothing new then."""
    if expired():
        raise DeadlineExceeded("the request's deadline has passed")


def capped(timeout: float | None) -> float | None:
    """``timeout`` (None: no limit), or less when the deadline comes sooner. Never raises, so
    it is safe wherever a library reads its timeout (use :func:`check` before starting)."""
    left = time_left()
    if left is None:
        return timeout
    left = max(left, MIN_WAIT)
    return left if timeout is None else min(timeout, left)
