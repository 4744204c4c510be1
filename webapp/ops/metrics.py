"""Parley's Prometheus metrics: one :class:`Metrics` per app (``Services.metrics``), which the
webhook handler and the stream report to.

Several gunicorn workers each count in their own process. Under gunicorn,
``gunicorn.conf.py`` gives every start a fresh ``PROMETHEUS_MULTIPROC_DIR`` before the app is
imported, so ``prometheus_client`` keeps each worker's numbers in a small file there and any
worker answering ``/metrics`` adds up the whole server (the standard multiprocess mode; open
streams count only live workers). Without that directory (tests, ``flask run``) the numbers
live in this process only. Across dynos nothing is shared: each dyno is its own target.
"""

from __future__ import annotations

import time

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client import values as prometheus_values
from prometheus_client.multiprocess import MultiProcessCollector

#: The answers ``POST /twilio/webhook`` gives (see ``webapp/webhooks/handler.py``).
WEBHOOK_OUTCOMES = (
    "accepted",
    "duplicate",
    "bad_signature",
    "ignored",
    "malformed",
    "unknown_conversation",
    "deferred",
    "timed_out",
)
#: Deliveries are counted in memory and reach the (file-backed) counter this often at most.
DELIVERED_FLUSH_SECONDS = 1.0
#: Twilio gives up after 5 s, so the interesting detail is well below that.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

# `*_created` timestamps add a series per counter and mean nothing across restarts; the
# multiprocess collector never emits them, so single-process output matches it this way.
disable_created_metrics()


def multiprocess_mode() -> bool:
    """True when ``prometheus_client`` stores values in ``PROMETHEUS_MULTIPROC_DIR`` files
    (decided by the library when it is first imported)."""
    return bool(getattr(prometheus_values.ValueClass, "_multiprocess", False))


class Metrics:
    """What Parley counts. Methods are cheap and never raise into request handling.

    With ``PROMETHEUS_MULTIPROC_DIR`` the values live in this process's files, so a process
    holds one (its app's): a second would write over the first one's numbers."""

    def __init__(self) -> None:
        self._multiprocess = multiprocess_mode()
        # In multiprocess mode values go to files and are collected from there, not from a
        # registry; otherwise this object's own registry (never the global default one).
        self._registry = None if self._multiprocess else CollectorRegistry()
        registry = self._registry
        self._open_streams = Gauge(
            "parley_open_streams",
            "Event streams (GET /stream) open now.",
            multiprocess_mode="livesum",
            registry=registry,
        )
        self._published = Counter(
            "parley_events_published",
            "Events published to the broker (one per event, whatever the recipients).",
            registry=registry,
        )
        self._delivered = Counter(
            "parley_events_delivered",
            "Events written to a browser's stream.",
            registry=registry,
        )
        self._pubsub_received = Counter(
            "parley_pubsub_messages_received",
            "Pub/sub messages the workers received from Redis (events, signals, control).",
            registry=registry,
        )
        self._webhooks = Counter(
            "parley_webhooks",
            "Twilio webhook requests by outcome.",
            ["outcome"],
            registry=registry,
        )
        self._webhook_seconds = Histogram(
            "parley_webhook_duration_seconds",
            "Time to answer a Twilio webhook.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        # Every outcome shown, at 0, from the start; kept, as ``labels`` costs more than ``inc``.
        self._webhook_outcomes = {o: self._webhooks.labels(outcome=o) for o in WEBHOOK_OUTCOMES}
        self._delivered_pending = 0
        self._delivered_due = 0.0

    def stream_opened(self) -> None:
        self._open_streams.inc()

    def stream_closed(self) -> None:
        self._open_streams.dec()

    def events_published(self, n: int) -> None:
        self._published.inc(n)

    def event_delivered(self, n: int = 1) -> None:
        """``n`` events written to one stream. Added up in memory and passed to the counter
        at most every :data:`DELIVERED_FLUSH_SECONDS` (each ``inc`` takes a lock and, under
        gunicorn, writes a file-backed value: a broadcast to 1,000 streams would pay that
        1,000 times per message). :meth:`flush` (the heartbeat ticker, ``render``) adds the rest.
        """
        self._delivered_pending += n
        now = time.monotonic()
        if now >= self._delivered_due:
            self._delivered_due = now + DELIVERED_FLUSH_SECONDS
            self.flush()

    def flush(self) -> None:
        """Pass the deliveries counted in memory to the Prometheus counter."""
        pending, self._delivered_pending = self._delivered_pending, 0
        if pending:
            self._delivered.inc(pending)

    def pubsub_received(self, n: int) -> None:
        """``n`` more pub/sub messages heard (the broker's listener reports them each second:
        with routing, about two per 1:1 message whatever the number of workers)."""
        self._pubsub_received.inc(n)

    def webhook(self, outcome: str, seconds: float) -> None:
        """One answered webhook: ``outcome`` is one of :data:`WEBHOOK_OUTCOMES`."""
        counter = self._webhook_outcomes.get(outcome) or self._webhooks.labels(outcome=outcome)
        counter.inc()
        self._webhook_seconds.observe(seconds)

    def render(self) -> str:
        """The Prometheus text exposition of every metric (all workers in multiprocess mode)."""
        self.flush()
        if self._registry is not None:
            return generate_latest(self._registry).decode()
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return generate_latest(registry).decode()
