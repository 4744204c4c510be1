"""Flask extensions, created once here and bound to the app in :func:`webapp.create_app`."""

from __future__ import annotations

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base for Parley's (few) tables."""


db = SQLAlchemy(model_class=Base)
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
