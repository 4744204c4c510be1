"""What Redis trouble means to whoever called: :class:`BrokerUnavailable`, or
:class:`BrokerBusy` when only this worker's pool had no connection free in time (an
overloaded worker, not Redis down). The webhook answers 503 to both, so Twilio retries."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

import redis
from redis.exceptions import RedisClusterException

from webapp.events.broker import BrokerBusy, BrokerUnavailable

#: What a Redis call can raise when Redis (or a cluster's slot) is not there: redis-py's
#: cluster errors such as ``SlotNotCoveredError`` (a failover in progress) are not
#: ``RedisError`` subclasses.
REDIS_ERRORS = (redis.RedisError, RedisClusterException)

P = ParamSpec("P")
T = TypeVar("T")


def unavailable(exc: Exception) -> BrokerUnavailable:
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
        except REDIS_ERRORS as exc:
            raise unavailable(exc) from exc

    return call
