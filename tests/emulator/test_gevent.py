"""Parley serves under gevent with monkey patching: the emulator's lock, queue and delivery
thread must work there too. Run in a subprocess so the patching stays out of this one."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    from gevent import monkey

    monkey.patch_all()

    import threading

    from flask import Flask, request
    from gevent.pywsgi import WSGIServer
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    from twilio_emulator import EmulatorSettings, create_emulator_app

    received, done = [], threading.Event()
    hook = Flask("hook")

    @hook.post("/twilio/webhook")
    def webhook():
        received.append(request.form["Body"])
        if len(received) == 3:
            done.set()
        return ""

    hook_server = WSGIServer(("127.0.0.1", 0), hook, log=None)
    hook_server.start()
    url = f"http://127.0.0.1:{hook_server.server_port}/twilio/webhook"
    app = create_emulator_app(EmulatorSettings(post_webhook_url=url))
    server = WSGIServer(("127.0.0.1", 0), app, log=None)
    server.start()
    origin = f"http://127.0.0.1:{server.server_port}"

    class Rewrite(TwilioHttpClient):
        def request(self, method, url, *args, **kwargs):
            url = url.replace("https://conversations.twilio.com", origin)
            return super().request(method, url, *args, **kwargs)

    client = Client("AC" + "0" * 32, "emulator-auth-token", http_client=Rewrite())
    conv = client.conversations.v1.conversations.create()
    for i in range(3):
        client.conversations.v1.conversations(conv.sid).messages.create(
            body=str(i), x_twilio_webhook_enabled="true"
        )
    assert done.wait(10), received
    assert app.extensions["twilio_emulator"].wait_idle(5)
    print("delivered", ",".join(received))
    """
)


def test_webhooks_are_delivered_in_order_under_gevent() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "delivered 0,1,2"
