"""The baseline: Flask-SSE (PyPI ``flask-sse``) set up as its documentation says.

``app.register_blueprint(sse, url_prefix='/stream')`` with ``REDIS_URL``, and ``sse.publish``
from a minimal Twilio webhook that checks the signature first (``bench/peer_webhook.py``), so
the benchmark drives it with exactly the requests it sends Parley. One channel per
conversation (Flask-SSE's way to direct events); streams open
``/stream?channel=<ConversationSid>``. No login, no ids, no replay: it is the cost floor of
"Redis pub/sub to SSE" in Flask, one Redis connection per stream.

Served by ``gunicorn -c gunicorn.conf.py bench.flask_sse_app:app`` (the benchmark does this),
with ``REDIS_URL`` and ``TWILIO_AUTH_TOKEN`` set.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, Response
from flask_sse import sse

from bench.peer_webhook import add_webhook

app = Flask(__name__)
app.config["REDIS_URL"] = os.environ["REDIS_URL"]
app.register_blueprint(sse, url_prefix="/stream")


@app.get("/health")
def health() -> Response:
    return Response("ok\n", mimetype="text/plain")


def _publish(channel: str, message: dict[str, Any]) -> None:
    sse.publish(message, type="message_added", channel=channel)


add_webhook(app, os.environ["TWILIO_AUTH_TOKEN"], _publish)
