"""Post-event webhook delivery: one background thread draining one FIFO queue.

One thread, so receivers see events in the order they happened (Parley relies on it); a
failing delivery is retried, with `RetryCount` incremented and the same idempotency token,
before the next event goes out. Requests are signed like Twilio's (`X-Twilio-Signature`) with
the auth token. `threading` and `queue` become greenlet-friendly under gevent's monkey
patching, so this works in Parley's gevent server and in plain threads alike.
"""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from dataclasses import dataclass, replace
from urllib.parse import urlencode

import requests
from twilio.request_validator import RequestValidator
from werkzeug.urls import uri_to_iri

from webapp.emulator.events import Event
from webapp.emulator.records import WebhookConfig
from webapp.emulator.settings import EmulatorSettings

log = logging.getLogger(__name__)
USER_AGENT = "TwilioProxy/1.1"


@dataclass(frozen=True)
class Delivery:
    """One webhook request to make, and how many times it has already been retried."""

    url: str
    method: str
    params: dict[str, str]
    idempotency_token: str
    retry_count: int = 0


class WebhookDispatcher:
    """Queues events for the service's post-event webhook and delivers them in order."""

    def __init__(self, settings: EmulatorSettings) -> None:
        self._settings = settings
        self._validator = RequestValidator(settings.auth_token)
        self._queue: queue.Queue[Delivery | None] = queue.Queue()
        self._pending = 0
        self._idle = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()
        self._session = requests.Session()

    def publish(self, event: Event, config: WebhookConfig) -> None:
        """Queue `event` if the service's post-event webhook subscribes to it."""
        if not config.post_webhook_url or event.type not in config.filters:
            return
        params = {
            "AccountSid": self._settings.account_sid,
            "ChatServiceSid": event.service_sid,
            "EventType": event.type,
            "Source": event.source,
            "WebhookSid": config.sid,
            "WebhookType": "webhook",
            **event.params,
        }
        token = f"{self._settings.account_sid}-{uuid.uuid4().hex}"
        self._enqueue(Delivery(config.post_webhook_url, config.method, params, token))

    def _enqueue(self, delivery: Delivery) -> None:
        with self._idle:
            self._pending += 1
        self._ensure_worker()
        self._queue.put(delivery)

    def _ensure_worker(self) -> None:
        """Start the delivery thread on first use (after any fork, never at import)."""
        with self._idle:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="twilio-emulator-webhooks", daemon=True
                )
                self._thread.start()

    def wait_idle(self, timeout: float) -> bool:
        """Block until every queued event has been delivered (or given up on); False if
        `timeout` seconds pass first. Tests use it instead of sleeping."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout=timeout)

    def close(self) -> None:
        """Stop the thread after the events already queued; used by tests and shutdown."""
        self._closed.set()
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=self._settings.webhook_timeout + 1)

    def _run(self) -> None:
        while True:
            delivery = self._queue.get()
            if delivery is None:
                return
            try:
                self._deliver_with_retries(delivery)
            except Exception:  # the thread must survive anything a receiver does
                log.exception("webhook delivery crashed: %s", delivery.params.get("EventType"))
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

    def _deliver_with_retries(self, delivery: Delivery) -> None:
        attempt = delivery
        while True:
            if self._attempt(attempt):
                return
            if attempt.retry_count >= self._settings.webhook_retries or self._closed.is_set():
                log.warning(
                    "webhook %s to %s failed after %d retries; dropped",
                    attempt.params["EventType"],
                    attempt.url,
                    attempt.retry_count,
                )
                return
            self._closed.wait(self._settings.webhook_retry_delay * (attempt.retry_count + 1))
            attempt = replace(attempt, retry_count=attempt.retry_count + 1)

    def _attempt(self, delivery: Delivery) -> bool:
        params = {**delivery.params, "RetryCount": str(delivery.retry_count)}
        headers = {
            "User-Agent": USER_AGENT,
            "I-Twilio-Idempotency-Token": delivery.idempotency_token,
        }
        try:
            if delivery.method == "GET":
                separator = "&" if "?" in delivery.url else "?"
                url = f"{delivery.url}{separator}{urlencode(params)}"
                # Signed as the receiver's Flask `request.url` will show it (percent-escapes
                # of unreserved characters decoded), so GET webhooks verify in Parley.
                headers["X-Twilio-Signature"] = self._validator.compute_signature(
                    uri_to_iri(url), {}
                )
                response = self._session.get(
                    url, headers=headers, timeout=self._settings.webhook_timeout
                )
            else:
                headers["X-Twilio-Signature"] = self._validator.compute_signature(
                    delivery.url, params
                )
                response = self._session.post(
                    delivery.url,
                    data=params,
                    headers=headers,
                    timeout=self._settings.webhook_timeout,
                )
        except requests.RequestException as exc:
            log.warning("webhook %s to %s: %s", params["EventType"], delivery.url, exc)
            return False
        log.info(
            "webhook %s to %s: %d (retry %d)",
            params["EventType"],
            delivery.url,
            response.status_code,
            delivery.retry_count,
        )
        return 200 <= response.status_code < 300
