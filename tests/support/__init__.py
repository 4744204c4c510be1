"""Test helpers: real servers (Redis, Parley under gunicorn) and clients that act like users."""
