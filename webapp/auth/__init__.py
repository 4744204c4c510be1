"""Log in, register, log out."""

from webapp.auth.routes import bp

__all__ = ["bp"]
