"""Operating Parley in production: health checks, Prometheus metrics, request logging.

The webhook and stream code report to :data:`webapp.ops.metrics.metrics`; everything else
here is wired by :func:`init_ops`.
"""

from __future__ import annotations

from flask import Flask

from webapp.config import Config
from webapp.ops.health import RedisCheck, TwilioCheck
from webapp.ops.logs import configure_logging, init_request_logging

__all__ = ["configure_logging", "init_ops"]


def init_ops(app: Flask, config: Config) -> None:
    """``/healthz``, ``/metrics`` and the per-request log line."""
    from webapp.ops.routes import bp

    app.register_blueprint(bp)
    init_request_logging(app)
    app.extensions["parley_twilio_check"] = TwilioCheck(config)
    if config.REDIS_URL:
        app.extensions["parley_redis_check"] = RedisCheck(config.REDIS_URL)
