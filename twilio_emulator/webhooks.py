"""Webhook delivery: post-events from one background thread, pre-events inline.

Post-events go through one FIFO queue drained by one thread, so receivers see events in the
order they happened (Parley relies on it); a failing delivery is retried, with `RetryCount`
incremented and the same idempotency token, before the next event goes out. One event may go to
several targets (the service's or global webhook, and each conversation-scoped one); each is
a delivery of its own, queued in order.

Pre-events (`onMessageAdd`, ...) are sent from the request's own thread while the REST call
waits, as Twilio waits before publishing: a non-2xx answer rejects the change, a 2xx may carry
JSON changes, and no answer within the timeout lets the change through unmodified (Twilio's
"Using Pre-Action Webhooks to Modify or Reject Changes").

Requests are signed like Twilio's (`X-Twilio-Signature`) with the auth token. `threading` and
`queue` become greenlet-friendly under gevent's monkey patching, so this works in Parley's
gevent server and in plain threads alike.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from urllib.parse import urlencode

import requests
from twilio.request_validator import RequestValidator
from werkzeug.urls import uri_to_iri

from twilio_emulator.events import Event
from twilio_emulator.settings import EmulatorSettings

log = logging.getLogger(__name__)
USER_AGENT = "TwilioProxy/1.1"


@dataclass(frozen=True)
class Target:
    """Where an event goes: a URL, its method (GET or POST) and the webhook's SID."""

    url: str
    method: str
    webhook_sid: str


@dataclass(frozen=True)
class Verdict:
    """A pre-event webhook's answer: allowed or not, and the changes its JSON body asked for."""

    allowed: bool
    status: int | None = None
    changes: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Delivery:
    """One webhook request to make, and how many times it has already been retried."""

    target: Target
    params: dict[str, str]
    idempotency_token: str
    retry_count: int = 0


class WebhookDispatcher:
    """Queues post-events and delivers them in order; screens pre-events synchronously."""

    def __init__(self, settings: EmulatorSettings) -> None:
        self._settings = settings
        self._validator = RequestValidator(settings.auth_token)
        self._queue: queue.Queue[Delivery | None] = queue.Queue()
        self._pending = 0
        self._idle = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()
        self._session = requests.Session()  # used by the delivery thread only

    def _params(self, event: Event, target: Target) -> dict[str, str]:
        return {
            "AccountSid": self._settings.account_sid,
            "ChatServiceSid": event.service_sid,
            "EventType": event.type,
            "Source": event.source,
            "WebhookSid": target.webhook_sid,
            "WebhookType": "webhook",
            **event.params,
        }

    def publish(self, event: Event, targets: Sequence[Target]) -> None:
        """Queue one delivery of `event` per target, in order."""
        for target in targets:
            token = f"{self._settings.account_sid}-{uuid.uuid4().hex}"
            self._enqueue(Delivery(target, self._params(event, target), token))

    def screen(self, event: Event, target: Target) -> Verdict:
        """Send a pre-event and wait for the answer (at most `webhook_timeout` seconds)."""
        params = {**self._params(event, target), "RetryCount": "0"}
        headers = {"I-Twilio-Idempotency-Token": f"{self._settings.account_sid}-{uuid.uuid4().hex}"}
        try:
            with requests.Session() as http:  # its own: request threads screen concurrently
                response = self._send(http, target, params, headers)
        except requests.RequestException as exc:
            log.warning("pre-event %s to %s: %s; allowed unmodified", event.type, target.url, exc)
            return Verdict(allowed=True)
        log.info("pre-event %s to %s: %d", event.type, target.url, response.status_code)
        if not 200 <= response.status_code < 300:
            return Verdict(allowed=False, status=response.status_code)
        try:
            body = json.loads(response.text) if response.text.strip() else {}
        except ValueError:
            body = {}
        return Verdict(allowed=True, status=response.status_code, changes=_as_dict(body))

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
                    attempt.target.url,
                    attempt.retry_count,
                )
                return
            self._closed.wait(self._settings.webhook_retry_delay * (attempt.retry_count + 1))
            attempt = replace(attempt, retry_count=attempt.retry_count + 1)

    def _attempt(self, delivery: Delivery) -> bool:
        params = {**delivery.params, "RetryCount": str(delivery.retry_count)}
        headers = {"I-Twilio-Idempotency-Token": delivery.idempotency_token}
        try:
            response = self._send(self._session, delivery.target, params, headers)
        except requests.RequestException as exc:
            log.warning("webhook %s to %s: %s", params["EventType"], delivery.target.url, exc)
            return False
        log.info(
            "webhook %s to %s: %d (retry %d)",
            params["EventType"],
            delivery.target.url,
            response.status_code,
            delivery.retry_count,
        )
        return 200 <= response.status_code < 300

    def _send(
        self,
        http: requests.Session,
        target: Target,
        params: dict[str, str],
        headers: dict[str, str],
    ) -> requests.Response:
        """One signed request: form-encoded POST, or GET with the parameters in the query."""
        headers = {**headers, "User-Agent": USER_AGENT}
        timeout = self._settings.webhook_timeout
        if target.method.upper() == "GET":
            separator = "&" if "?" in target.url else "?"
            url = f"{target.url}{separator}{urlencode(params)}"
            # Signed as the receiver's Flask `request.url` will show it (percent-escapes of
            # unreserved characters decoded), so GET webhooks verify in Parley.
            headers["X-Twilio-Signature"] = self._validator.compute_signature(uri_to_iri(url), {})
            return http.get(url, headers=headers, timeout=timeout, allow_redirects=False)
        headers["X-Twilio-Signature"] = self._validator.compute_signature(target.url, params)
        return http.post(
            target.url, data=params, headers=headers, timeout=timeout, allow_redirects=False
        )


def _as_dict(body: object) -> dict[str, object]:
    return {str(key): value for key, value in body.items()} if isinstance(body, dict) else {}
