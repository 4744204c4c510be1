"""The peers' Twilio webhook: one handler for Flask-SSE and the minimal hub.

Both peers check ``X-Twilio-Signature`` with the ``twilio`` library's ``RequestValidator``,
take only ``onMessageAdded`` and publish the same message JSON, so that the benchmark drives
them with exactly the requests it sends Parley and they differ only in how they publish.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, Response, request
from twilio.request_validator import RequestValidator

#: Publishes ``message`` as a ``message_added`` event on the channel named first.
Publish = Callable[[str, dict[str, Any]], None]


def add_webhook(app: Flask, auth_token: str, publish: Publish) -> None:
    """``POST /twilio/webhook`` on ``app``: verify, keep ``onMessageAdded``, publish."""
    validator = RequestValidator(auth_token)

    @app.post("/twilio/webhook")
    def twilio_webhook() -> Response:
        params = request.form.to_dict()
        if not validator.validate(request.url, params, request.headers.get("X-Twilio-Signature")):
            return Response("invalid signature\n", status=403, mimetype="text/plain")
        if params.get("EventType") != "onMessageAdded":
            return Response("ignored\n", mimetype="text/plain")
        message = {
            "conversation_sid": params["ConversationSid"],
            "message": {
                "sid": params["MessageSid"],
                "index": int(params.get("Index", "0")),
                "author": params.get("Author"),
                "body": params.get("Body"),
                "date_created": params.get("DateCreated"),
            },
        }
        publish(params["ConversationSid"], message)
        return Response("ok\n", mimetype="text/plain")
