"""``POST /twilio/webhook``: Twilio's post-event webhook, verified and published to the broker."""

from webapp.webhooks.routes import bp

__all__ = ["bp"]
