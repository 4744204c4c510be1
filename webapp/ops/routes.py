"""``GET /healthz`` for the platform's probe and ``GET /metrics`` for Prometheus."""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, jsonify, request

from webapp.ops.health import Check, check_database
from webapp.services import get_services

bp = Blueprint("ops", __name__)

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


@bp.get("/healthz")
def healthz() -> Response:
    """200 when every outside system answers, 503 naming the one that does not."""
    services = get_services()
    checks: dict[str, Check] = {"database": check_database()}
    if services.redis_check is not None:
        checks["redis"] = services.redis_check()
    checks["twilio"] = services.twilio_check(services.gateway.client)
    healthy = all(check.ok for check in checks.values())
    response = jsonify(
        {
            "status": "ok" if healthy else "unhealthy",
            "checks": {name: check.as_json() for name, check in checks.items()},
        }
    )
    response.status_code = 200 if healthy else 503
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/metrics")
def prometheus_metrics() -> Response:
    """Prometheus text format, for ``Authorization: Bearer <METRICS_TOKEN>`` only; without a
    token configured the endpoint does not exist (404)."""
    services = get_services()
    token = services.config.METRICS_TOKEN
    if not token:
        return Response("not found\n", status=404, mimetype="text/plain")
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return Response(
            "a bearer token is required\n",
            status=401,
            mimetype="text/plain",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    return Response(services.metrics.render(), mimetype=PROMETHEUS_TEXT)
