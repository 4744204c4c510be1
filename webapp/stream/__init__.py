"""``GET /stream``: one Server-Sent Events stream per logged-in user, for all conversations.

The Flask route in ``routes.py`` writes only a stream's beginning (headers, ``connected``,
``resumed``/``resync``, any replay). Under gunicorn's gevent worker its connection is then
handed to the process's one stream writer (``writer.py``), which sends every live event and
heartbeat from there on; elsewhere the route's generator keeps writing them itself.
"""

from webapp.stream.routes import bp

__all__ = ["bp"]
