"""The webhook endpoint. It answers fast: Twilio gives up after 5 seconds and retries."""

from __future__ import annotations

import logging
import time

from flask import Blueprint, Response, request

from webapp.events.broker import BrokerBusy, BrokerUnavailable
from webapp.ops.metrics import metrics
from webapp.services import get_services
from webapp.twilio_gateway import GatewayError
from webapp.webhooks.dedupe import delivery_key
from webapp.webhooks.signature import candidate_urls, is_valid_signature
from webapp.webhooks.translate import TRANSLATORS

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__)


def _answer(status: int, text: str) -> Response:
    return Response(text + "\n", status=status, mimetype="text/plain")


@bp.post("/twilio/webhook")
def twilio_webhook() -> Response:
    started = time.perf_counter()
    status, text, outcome = _handle()
    metrics.webhook(outcome, time.perf_counter() - started)
    return _answer(status, text)


def _handle() -> tuple[int, str, str]:
    """Verify, de-duplicate, translate and publish; returns (status, body, outcome)."""
    services = get_services()
    params = request.form.to_dict()
    urls = candidate_urls(request.url, services.config.webhook_url)
    signature = request.headers.get("X-Twilio-Signature")
    if not is_valid_signature(services.config.TWILIO_AUTH_TOKEN, urls, params, signature):
        log.warning("webhook rejected: bad or missing signature (url=%s)", request.url)
        return 403, "invalid signature", "bad_signature"

    event_type = params.get("EventType", "")
    translate = TRANSLATORS.get(event_type)
    if translate is None or not params.get("ConversationSid"):
        log.info("webhook ignored: %s", event_type or "no EventType")
        return 200, "ignored", "ignored"
    # De-duplication is folded into the publish (one Redis round trip claims, publishes and
    # remembers): each event a webhook produces is published at most once, so a retry after a
    # partial failure publishes only what is missing.
    key = delivery_key(params)
    published = duplicates = 0
    try:
        for n, outgoing in enumerate(translate(services, params)):
            if services.broker.publish(outgoing.event, outgoing.recipients, once=f"{key}:{n}"):
                published += 1
                metrics.events_published(1)
            else:
                duplicates += 1
    except (KeyError, ValueError):
        log.warning("webhook rejected: malformed %s parameters", event_type)
        return 400, "malformed parameters", "malformed"
    except BrokerBusy:
        log.error(
            "webhook deferred: every Redis connection busy, worker overloaded (%s)", event_type
        )
        return 503, "busy; retry", "deferred"
    except BrokerUnavailable:
        log.error("webhook deferred: broker unavailable (%s)", event_type)
        return 503, "broker unavailable; retry", "deferred"
    except GatewayError as exc:
        log.error("webhook deferred: Twilio lookup failed for %s: %s", event_type, exc.message)
        return 503, "Twilio lookup failed; retry", "deferred"
    if duplicates and not published:
        log.info("webhook duplicate: %s (retry %s)", event_type, params.get("RetryCount"))
        return 200, "duplicate", "duplicate"
    log.info("webhook accepted: %s %s", event_type, params.get("ConversationSid"))
    return 200, "ok", "accepted"
