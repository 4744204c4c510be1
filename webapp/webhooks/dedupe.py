"""Twilio retries webhooks, so one event can arrive twice: deliver it to browsers once.

A delivery is identified by the event itself: every parameter Twilio sent except
``RetryCount``, which is all that changes between retries. (Twilio's
``I-Twilio-Idempotency-Token`` header is the same on every retry too, but a sender that
omits it, or a replay of the same event, must be caught as well.) A delivery
is *claimed* before publishing and *confirmed* after: a failed publish releases the claim, so
Twilio's retry is processed instead of being taken for a duplicate.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Mapping
from typing import Protocol

import redis

from webapp.events.broker import BrokerUnavailable

#: How long a processed delivery is remembered (Twilio's retries come within minutes).
REMEMBER_SECONDS = 24 * 3600
#: How long a claim holds while its delivery is being processed.
CLAIM_SECONDS = 60

#: Parameters that differ between retries of one event.
_PER_ATTEMPT = {"RetryCount"}


def delivery_key(params: Mapping[str, str]) -> str:
    """A short, stable key for one event, the same for each of Twilio's retries of it."""
    digest = hashlib.sha256()
    for name in sorted(set(params) - _PER_ATTEMPT):
        digest.update(f"{name}\0{params[name]}\0".encode())
    return digest.hexdigest()[:32]


class WebhookLedger(Protocol):
    def claim(self, key: str) -> bool:
        """True if this delivery is new (and now being processed); False for a duplicate."""

    def confirm(self, key: str) -> None: ...

    def release(self, key: str) -> None: ...


class MemoryLedger:
    """For the single-process set-up; entries expire so memory stays bounded in time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until: dict[str, float] = {}

    def _set(self, key: str, seconds: float) -> None:
        self._until[key] = time.monotonic() + seconds

    def claim(self, key: str) -> bool:
        now = time.monotonic()
        with self._lock:
            if len(self._until) > 100_000:
                self._until = {k: t for k, t in self._until.items() if t > now}
            if self._until.get(key, 0.0) > now:
                return False
            self._set(key, CLAIM_SECONDS)
            return True

    def confirm(self, key: str) -> None:
        with self._lock:
            self._set(key, REMEMBER_SECONDS)

    def release(self, key: str) -> None:
        with self._lock:
            self._until.pop(key, None)


class RedisLedger:
    """Shared by every worker, so a retry landing on another worker is still recognised."""

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    @staticmethod
    def _key(key: str) -> str:
        return f"parley:webhook:{key}"

    def claim(self, key: str) -> bool:
        try:
            return bool(self._redis.set(self._key(key), b"1", nx=True, ex=CLAIM_SECONDS))
        except redis.RedisError as exc:
            raise BrokerUnavailable("Redis is unavailable") from exc

    def confirm(self, key: str) -> None:
        try:
            self._redis.set(self._key(key), b"1", ex=REMEMBER_SECONDS)
        except redis.RedisError:
            pass  # the event went out; at worst a retry is delivered twice

    def release(self, key: str) -> None:
        try:
            self._redis.delete(self._key(key))
        except redis.RedisError:
            pass  # the claim expires by itself
