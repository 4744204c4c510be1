"""``GET /stream``: one Server-Sent Events stream per logged-in user, for all conversations."""

from webapp.stream.routes import bp

__all__ = ["bp"]
