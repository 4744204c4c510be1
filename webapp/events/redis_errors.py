"""What Redis trouble means to whoever called: :class:`BrokerUnavailable`, or
:class:`BrokerBusy` when only this worker's pool had no connection free in time (an
overloaded worker, not Redis down). The webhook answers 503 to both, so Twilio retries."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

import redis

from webapp.events.broker import BrokerBusy, BrokerUnavailable

P = ParamSpec("P")
T = TypeVar("T")


def unavailable(exc: redis.RedisError) -> BrokerUnavailable:
    """The error a webhook or stream sees: a pool wait that timed out is not an outage."""
    if isinstance(exc, redis.ConnectionError) and "No connection available" in str(exc):
        return BrokerBusy("every Redis connection of this worker stayed busy (overloaded)")
    return BrokerUnavailable(f"Redis is unavailable: {exc.__class__.__name__}")


def translated(method: Callable[P, T]) -> Callable[P, T]:
    """``method`` raising :func:`unavailable`'s errors instead of ``redis.RedisError``."""

    @wraps(method)
    def call(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return method(*args, **kwargs)
        except redis.RedisError as exc:
            raise unavailable(exc) from exc

    return call
