"""Flask extensions, created once here and bound to the app in :func:`webapp.create_app`."""

from __future__ import annotations

import logging

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import DeclarativeBase
from werkzeug.exceptions import ServiceUnavailable
from werkzeug.wrappers import Response

from webapp.errors import json_error, wants_json

log = logging.getLogger(__name__)

#: Seconds a client is asked to wait after the database was too busy to answer it.
BUSY_RETRY_AFTER = 2


class Base(DeclarativeBase):
    """Declarative base for Parley's (few) tables."""


class Database(SQLAlchemy):
    """Flask-SQLAlchemy, and the answer to a request that found no free connection within the
    pool's timeout (``DB_POOL_TIMEOUT``): 503 with ``Retry-After``, since the same request
    succeeds once the peak has passed, never a 500."""

    def init_app(self, app: Flask) -> None:
        super().init_app(app)
        app.register_error_handler(PoolTimeout, _database_busy)


def _database_busy(error: PoolTimeout) -> Response:
    log.warning("no database connection free in time for %s %s", request.method, request.path)
    message = "The server is busy; try again in a few seconds."
    response: Response
    if wants_json(request.path):
        response = json_error(503, "busy", message)
    else:
        response = ServiceUnavailable(message).get_response()
    response.headers["Retry-After"] = str(BUSY_RETRY_AFTER)
    return response


db = Database(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()


#: Limits are declared where they apply (the login view); none apply by default. Storage comes
#: from ``RATELIMIT_STORAGE_URI`` (Redis when ``REDIS_URL`` is set); if Redis is down the
#: limiter counts in memory rather than refusing every login. Behind a proxy the client's
#: address is right only with ``TRUST_PROXY`` (ProxyFix).
limiter = Limiter(
    key_func=get_remote_address,
    key_prefix="parley-limits",
    strategy="moving-window",  # no burst allowed at a window's edge
    swallow_errors=True,
    in_memory_fallback_enabled=True,
)
