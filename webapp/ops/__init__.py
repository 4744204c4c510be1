"""Operating Parley in production: health checks, Prometheus metrics, request logging.

The webhook and stream code report to the app's :class:`webapp.ops.metrics.Metrics`
(``Services.metrics``); the routes and the request log are wired by :func:`init_ops`.
"""

from __future__ import annotations

from flask import Flask

from webapp.ops.logs import configure_logging, init_request_logging

__all__ = ["configure_logging", "init_ops"]


def init_ops(app: Flask) -> None:
    """``/healthz``, ``/metrics`` and the per-request log line."""
    from webapp.ops.routes import bp

    app.register_blueprint(bp)
    init_request_logging(app)
