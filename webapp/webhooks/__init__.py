"""``POST /twilio/webhook``: Twilio's post-event webhook, verified and published to the broker.

Twilio's requests do not go through the Flask route in ``routes.py``: in production the lean
WSGI path in ``fast_path.py`` (put in front of Flask by ``create_app``) serves them, and only
what it leaves to Flask reaches the route. Both call the one handler, ``handler.py``: verify
the signature, de-duplicate, catch up on missed messages, translate, publish.
"""

from webapp.webhooks.routes import bp

__all__ = ["bp"]
