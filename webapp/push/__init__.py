"""Web Push to a closed tab: the browser's subscription, the service worker, the sender.

A message for someone with no Parley page open reaches their browsers' push services
(``dispatcher.py``), which wake the service worker (``static/js/sw.js``) to show it.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask
from flask_login import user_logged_out

from webapp.extensions import db
from webapp.models import PushSubscription

bp = Blueprint("push", __name__)


def _forget_subscriptions(sender: Flask, user: Any, **extra: Any) -> None:
    """Logout ends the user's sessions on every device, so every browser of theirs stops
    getting their messages too."""
    user_id = getattr(user, "id", None)
    if user_id is not None:
        db.session.execute(db.delete(PushSubscription).filter_by(user_id=user_id))
        db.session.commit()


def init_push(app: Flask) -> None:
    from webapp.push import routes  # noqa: F401  (routes register on bp)

    app.register_blueprint(bp)
    user_logged_out.connect(_forget_subscriptions, app)
