"""The "minimal hub" reference peer, served beside Parley and Flask-SSE.

The hub (``limit_hub.py``, the team's reference, kept outside this repository and named by
``--hub``) is loaded from the file named by ``PARLEY_BENCH_HUB`` at start-up, never copied
here. It serves everything (``GET /stream?channel=NAME``, ``/stats``,
``/health``) except ``POST /twilio/webhook``, which is the same signed webhook as Flask-SSE's
(``bench/peer_webhook.py``) publishing Flask-SSE's message JSON on channel = ConversationSid:
the hub speaks that format, so the benchmark drives and reads it exactly as it does Flask-SSE.

Served by ``gunicorn -c gunicorn.conf.py bench.hub_app:app`` (the benchmark does this), with
``PARLEY_BENCH_HUB``, ``REDIS_URL`` and ``TWILIO_AUTH_TOKEN`` set.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

import redis
from flask import Flask

from bench.peer_webhook import add_webhook

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def load_hub(path: Path) -> ModuleType:
    """The hub's module, imported from its file (it reads ``REDIS_URL`` as it is imported)."""
    spec = importlib.util.spec_from_file_location("limit_hub", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import the hub from {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def create_app(hub_path: Path, redis_url: str, auth_token: str) -> WSGIApp:
    """The hub's own app, with the webhook in front of it.

    The webhooks publish through a client of their own: the hub's publisher and its pub/sub
    client are private to its module, and its ``POST /publish`` sends no event type."""
    hub = load_hub(hub_path)
    publisher = redis.Redis.from_url(redis_url)
    webhooks = Flask(__name__)

    def publish(channel: str, message: dict[str, Any]) -> None:
        publisher.publish(channel, json.dumps({"data": message, "type": "message_added"}))

    add_webhook(webhooks, auth_token, publish)
    hub_app: WSGIApp = hub.app

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/twilio/webhook" and environ["REQUEST_METHOD"] == "POST":
            return webhooks(environ, start_response)
        return hub_app(environ, start_response)

    return app


app = create_app(
    Path(os.environ["PARLEY_BENCH_HUB"]), os.environ["REDIS_URL"], os.environ["TWILIO_AUTH_TOKEN"]
)
