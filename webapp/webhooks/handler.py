"""One webhook, start to answer: verify, de-duplicate, catch up, translate, publish.

A plain function, :func:`handle_webhook` (parameters, URL, signature in; a :class:`WebhookResult`
out), so that both ways in call the same code: the lean WSGI path (:mod:`.fast_path`), which
serves Twilio's requests in production, and the Flask route (:mod:`.routes`), which serves
whatever that path leaves to Flask. It answers fast: Twilio gives up after 5 seconds and retries.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

from webapp import deadline
from webapp.events.broker import BrokerBusy, BrokerUnavailable
from webapp.events.published_index import OutOfOrder
from webapp.services import Services
from webapp.twilio_gateway import GatewayError, is_conversation_sid
from webapp.webhooks.dedupe import delivery_key
from webapp.webhooks.signature import candidate_urls, is_valid_signature
from webapp.webhooks.translate import TRANSLATORS, Params

T = TypeVar("T")

log = logging.getLogger(__name__)

#: Seconds a webhook may spend on Twilio lookups and Redis before it answers 503: Twilio waits
#: 5 s for the answer (then logs an error and retries), and the request may have queued first.
DEADLINE = 3.0


@dataclass(frozen=True)
class WebhookResult:
    """The answer to one webhook: HTTP status, plain-text body, the metrics outcome, and
    what the request's log line says about it (failures also log their own warning)."""

    status: int
    text: str
    outcome: str
    #: After the outcome on the log line, e.g. ``onMessageAdded CH…``.
    detail: str = ""

    @property
    def body(self) -> bytes:
        return (self.text + "\n").encode()

    @property
    def summary(self) -> str:
        """For the request's log line: ``accepted onMessageAdded CH…``."""
        return f"{self.outcome} {self.detail}" if self.detail else self.outcome


def handle_webhook(
    services: Services, params: Params, url: str, signature: str | None
) -> WebhookResult:
    """Verify, de-duplicate, translate and publish one webhook, and count it in the metrics.

    ``params`` are the form parameters (first value per name, as Flask's
    ``request.form.to_dict()``), ``url`` the URL the request arrived at (after ``ProxyFix``).
    Every Twilio call and Redis command made meanwhile shares one :data:`DEADLINE`.
    """
    started = time.perf_counter()
    with deadline.within(DEADLINE):
        result = _handle(services, params, url, signature)
    services.metrics.webhook(result.outcome, time.perf_counter() - started)
    return result


def _handle(services: Services, params: Params, url: str, signature: str | None) -> WebhookResult:
    urls = candidate_urls(url, services.config.webhook_url)
    if not is_valid_signature(services.config.TWILIO_AUTH_TOKEN, urls, params, signature):
        log.warning("webhook rejected: bad or missing signature (url=%s)", url)
        return WebhookResult(403, "invalid signature", "bad_signature")

    event_type = params.get("EventType", "")
    translate = TRANSLATORS.get(event_type)
    if translate is None:
        return WebhookResult(200, "ignored", "ignored", event_type or "(no EventType)")
    conversation_sid = params.get("ConversationSid", "")
    if not is_conversation_sid(conversation_sid):
        # Twilio could never find it: asking would only turn bad input into a retry loop.
        log.warning("webhook rejected: %s without a valid ConversationSid", event_type)
        return WebhookResult(400, "malformed parameters", "malformed", event_type)
    about = f"{event_type} {conversation_sid}"
    # De-duplication is folded into the publish (one Redis round trip claims, publishes and
    # remembers): each event a webhook produces is published at most once, so a retry after a
    # partial failure publishes only what is missing.
    key = delivery_key(params)
    published = duplicates = 0
    # A new message is noted in its conversation's mark by its own publish (one round trip);
    # if messages before it are missing, they are published first, in order.
    order = services.catch_up.in_order(params)
    try:
        for n, outgoing in enumerate(parameters_checked(partial(translate, services, params))):
            event, recipients, once = outgoing.event, outgoing.recipients, f"{key}:{n}"
            try:
                done = services.broker.publish(event, recipients, once, order if n == 0 else None)
            except OutOfOrder as gap:
                assert order is not None  # only an ordered publish is refused
                if not services.catch_up.fill(order, gap.mark):
                    return WebhookResult(503, "catching up; retry", "deferred", about)
                after_gap = order._replace(strict=False)
                done = services.broker.publish(event, recipients, once, after_gap)
            if done:
                published += 1
                services.push.offer(outgoing.event, outgoing.recipients)  # queued, not sent
            else:
                duplicates += 1
    except Malformed:
        log.warning("webhook rejected: malformed %s parameters", event_type)
        return WebhookResult(400, "malformed parameters", "malformed", event_type)
    except GatewayError as exc:
        if exc.not_found:
            # Deleted, or never existed: a retry would get the same 404, and nobody is left
            # to tell. Answered 200 so that Twilio stops asking.
            return WebhookResult(200, "nothing to deliver", "unknown_conversation", about)
        return _retry_later(f"Twilio lookup failed: {exc.message}", "Twilio lookup failed", about)
    except BrokerBusy as exc:
        return _retry_later(f"worker overloaded: {exc}", "busy", about)
    except BrokerUnavailable as exc:
        return _retry_later(str(exc), "broker unavailable", about)
    except deadline.DeadlineExceeded as exc:
        return _retry_later(str(exc), "too slow", about)
    finally:
        if published:
            services.metrics.events_published(published)
    if duplicates and not published:
        retry = params.get("RetryCount")
        return WebhookResult(200, "duplicate", "duplicate", f"{about} (retry {retry})")
    return WebhookResult(200, "ok", "accepted", about)


class Malformed(Exception):
    """The webhook's parameters cannot be translated (a 400: Twilio's retry would be the same)."""


def parameters_checked(translate: Callable[[], Iterable[T]]) -> Iterator[T]:
    """The events ``translate()`` makes, its ``KeyError`` and ``ValueError`` (what bad
    parameters raise, at the call or while it yields) turned into :class:`Malformed`. Only
    the translator's: the same errors from the publish that consumes each event are a fault
    of Parley's, not of the input, and must not be answered 400 (Twilio would drop the
    message instead of retrying)."""
    try:
        iterator = iter(translate())
    except (KeyError, ValueError) as exc:
        raise Malformed(str(exc)) from exc
    while True:
        try:
            event = next(iterator)
        except StopIteration:
            return
        except (KeyError, ValueError) as exc:
            raise Malformed(str(exc)) from exc
        yield event


def _retry_later(reason: str, text: str, about: str) -> WebhookResult:
    """A 503, so that Twilio retries: ``deferred``, or ``timed_out`` once the deadline has
    passed (whatever failed then, it failed for want of time)."""
    if deadline.expired():
        log.error("webhook deferred: no answer within %.1f s (%s; %s)", DEADLINE, reason, about)
        return WebhookResult(503, "too slow; retry", "timed_out", about)
    log.error("webhook deferred: %s (%s)", reason, about)
    return WebhookResult(503, f"{text}; retry", "deferred", about)
