"""The webhook endpoint. It answers fast: Twilio gives up after 5 seconds and retries."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, request

from webapp.events.broker import BrokerUnavailable
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
    services = get_services()
    params = request.form.to_dict()
    urls = candidate_urls(request.url, services.config.webhook_url)
    signature = request.headers.get("X-Twilio-Signature")
    if not is_valid_signature(services.config.TWILIO_AUTH_TOKEN, urls, params, signature):
        log.warning("webhook rejected: bad or missing signature (url=%s)", request.url)
        return _answer(403, "invalid signature")

    event_type = params.get("EventType", "")
    translate = TRANSLATORS.get(event_type)
    if translate is None or not params.get("ConversationSid"):
        log.info("webhook ignored: %s", event_type or "no EventType")
        return _answer(200, "ignored")
    ledger = services.webhook_ledger
    key = delivery_key(params)
    try:
        if not ledger.claim(key):
            log.info("webhook duplicate: %s (retry %s)", event_type, params.get("RetryCount"))
            return _answer(200, "duplicate")
        for outgoing in translate(services, params):
            services.broker.publish(outgoing.event, outgoing.recipients)
    except (KeyError, ValueError):
        ledger.release(key)
        log.warning("webhook rejected: malformed %s parameters", event_type)
        return _answer(400, "malformed parameters")
    except BrokerUnavailable:
        ledger.release(key)
        log.error("webhook deferred: broker unavailable (%s)", event_type)
        return _answer(503, "broker unavailable; retry")
    except GatewayError as exc:
        ledger.release(key)
        log.error("webhook deferred: Twilio lookup failed for %s: %s", event_type, exc.message)
        return _answer(503, "Twilio lookup failed; retry")
    ledger.confirm(key)
    log.info("webhook accepted: %s %s", event_type, params.get("ConversationSid"))
    return _answer(200, "ok")
