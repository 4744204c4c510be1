"""``POST /twilio/webhook`` as a Flask route, around :func:`~.handler.handle_webhook`.

Twilio's requests normally skip it: the lean WSGI path in :mod:`webapp.webhooks.fast_path`
serves them without Flask's request cycle. This route serves whatever that path leaves to
Flask (any other shape of request to the path) and keeps the endpoint known to ``url_for``.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from webapp.ops.logs import describe_request
from webapp.services import get_services
from webapp.webhooks.handler import handle_webhook

bp = Blueprint("webhooks", __name__)

#: Where Twilio posts its events (``Config.webhook_url`` ends with it).
WEBHOOK_PATH = "/twilio/webhook"


@bp.post(WEBHOOK_PATH)
def twilio_webhook() -> Response:
    result = handle_webhook(
        get_services(),
        request.form.to_dict(),
        request.url,
        request.headers.get("X-Twilio-Signature"),
    )
    describe_request(result.summary, webhook=result.outcome)
    return Response(result.body, status=result.status, mimetype="text/plain")
