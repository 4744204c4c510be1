"""A local stand-in for the Twilio Conversations v1 REST API, so Parley runs with no account.

`create_emulator_app(settings)` builds a small Flask app serving the subset Parley uses, in
both path forms (`/v1/Services/{sid}/...` and `/v1/...`), behind Twilio's basic auth (or an
access token in `X-Twilio-Token`, as Twilio's SDKs send it: `access.py`). Mount it
under a prefix (e.g. `/_emulator` with werkzeug's DispatcherMiddleware) or serve it on its own
port (`python -m twilio_emulator run`); point the `twilio` library at it with an http client
that rewrites `https://conversations.twilio.com` to the emulator's origin.

Changes made with `X-Twilio-Webhook-Enabled: true`, and inbound SMS from `POST /_dev/sms`, fire
Twilio-style signed webhooks: pre-events inline (a non-2xx answer rejects the change), post-events
in order from one background thread, to the service's (or else the account's global) webhook and
to conversation-scoped ones. Tests wait for delivery with
`app.extensions["twilio_emulator"].wait_idle(timeout) -> bool` (True once the queue is
drained). `GET /_dev/outbox` lists what the emulator 'sent' by SMS. Twilio's Media Content
Service (`mcs.us1.twilio.com`) is a second app mounted at `/mcs` (`mcs.py`). With
`settings.persist_path`, the store lives on in a SQLite file. See docs/emulator.md.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from twilio_emulator import auth, config_routes, dev, errors, mcs, routes, views
from twilio_emulator.settings import EmulatorSettings
from twilio_emulator.state import EmulatorState

#: Importing these registers their views on `views.bp`.
ROUTE_MODULES = (routes, config_routes)

__all__ = ["EmulatorSettings", "EmulatorState", "create_emulator_app"]


def create_emulator_app(settings: EmulatorSettings) -> Flask:
    """A fresh emulator with an empty store and its own webhook delivery thread."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["twilio_emulator"] = EmulatorState(settings)
    errors.init_app(app)
    auth.init_app(app)
    app.register_blueprint(views.bp)  # carries the views of `routes` and `config_routes`
    app.register_blueprint(dev.bp)
    media_service = mcs.create_mcs_app(app.extensions["twilio_emulator"])
    app.wsgi_app = DispatcherMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, {mcs.MOUNT_PATH: media_service}
    )
    return app
