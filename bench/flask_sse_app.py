"""The baseline: Flask-SSE (PyPI ``flask-sse``) set up as its documentation says.

``app.register_blueprint(sse, url_prefix='/stream')`` with ``REDIS_URL``, and ``sse.publish``
from a minimal Twilio webhook that checks the signature first, so the benchmark drives it with
exactly the requests it sends Parley. One channel per conversation (Flask-SSE's way to direct
events); streams open ``/stream?channel=<ConversationSid>``. No login, no ids, no replay: it is
the cost floor of "Redis pub/sub to SSE" in Flask, one Redis connection per stream.

Served by ``gunicorn -c gunicorn.conf.py bench.flask_sse_app:app`` (the benchmark does this),
with ``REDIS_URL`` and ``TWILIO_AUTH_TOKEN`` set.
"""

from __future__ import annotations

import os

from flask import Flask, Response, request
from flask_sse import sse
from twilio.request_validator import RequestValidator

app = Flask(__name__)
app.config["REDIS_URL"] = os.environ["REDIS_URL"]
app.register_blueprint(sse, url_prefix="/stream")
_validator = RequestValidator(os.environ["TWILIO_AUTH_TOKEN"])


@app.get("/health")
def health() -> Response:
    return Response("ok\n", mimetype="text/plain")


@app.post("/twilio/webhook")
def twilio_webhook() -> Response:
    params = request.form.to_dict()
    if not _validator.validate(request.url, params, request.headers.get("X-Twilio-Signature")):
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
    sse.publish(message, type="message_added", channel=params["ConversationSid"])
    return Response("ok\n", mimetype="text/plain")
