"""Parley's configuration: read from the environment once, validated, passed down.

No other module reads ``os.environ``. Two switches decide which outside systems Parley uses:
``TWILIO_ACCOUNT_SID`` (set: live Twilio; unset: the local emulator) and ``REDIS_URL`` (set:
Redis; unset: the in-process broker, one process only).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url

from twilio_emulator.credentials import (
    EMULATOR_ACCOUNT_SID,
    EMULATOR_API_KEY_SECRET,
    EMULATOR_API_KEY_SID,
    EMULATOR_AUTH_TOKEN,
    EMULATOR_SERVICE_SID,
)

#: Where the in-process emulator is mounted inside Parley's own server.
EMULATOR_MOUNT_PATH = "/_emulator"

_LIVE_VARIABLES = (
    ("TWILIO_ACCOUNT_SID", r"AC[0-9a-fA-F]{32}"),
    ("TWILIO_AUTH_TOKEN", r"[0-9a-zA-Z]{32}"),
    ("TWILIO_API_KEY_SID", r"SK[0-9a-fA-F]{32}"),
    ("TWILIO_API_KEY_SECRET", r"\S{16,}"),
    ("TWILIO_CONVERSATIONS_SERVICE_SID", r"IS[0-9a-fA-F]{32}"),
)
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_TRUE = {"1", "true", "yes", "on"}
_LOG_FORMATS = ("plain", "json")
#: An origin as CSP's ``frame-ancestors`` takes it: scheme, host and an optional port, no
#: path, no wildcard (a ``*`` would let any site frame Parley and click for its users).
_ORIGIN = re.compile(
    r"(https?)://(\[[0-9a-f:.]+\]|[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?)(?::([0-9]{1,5}))?"
)
#: Hosts browsers treat as secure over plain http, so a Secure cookie is kept there.
_LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


#: Twilio's Media Content Service; the emulator serves the same API at ``<origin>/mcs``.
LIVE_MCS_URL = "https://mcs.us1.twilio.com"
#: Twilio's own limit for one chat file (150 MB); ``MEDIA_MAX_BYTES`` may not go above it.
TWILIO_MEDIA_LIMIT = 150 * 1024 * 1024


class ConfigError(RuntimeError):
    """A configuration problem, worded so the operator knows which variable to fix."""


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in _TRUE


def _directory(value: str | None) -> bool:
    """``PARLEY_DIRECTORY``: on by default; ``off`` for sites whose backend makes every
    conversation, so that nobody can look their users up by name."""
    word = (value or "on").strip().lower()
    if word in ("on", "1", "true", "yes"):
        return True
    if word in ("off", "0", "false", "no"):
        return False
    raise ConfigError(f"PARLEY_DIRECTORY must be on or off, got {value!r}.")


def _database_url(value: str | None) -> str:
    """SQLite file by default; Heroku's ``postgres://`` form is rewritten for SQLAlchemy."""
    if not value:
        return "sqlite:///parley.sqlite3"
    for prefix in ("postgres://", "postgresql://"):
        if value.startswith(prefix):
            return "postgresql+psycopg://" + value[len(prefix) :]
    return value


def _redis_url(value: str | None, verify_tls: bool) -> str | None:
    """``REDIS_VERIFY_TLS=0`` accepts a self-signed certificate (Heroku Redis has one): the
    connection stays encrypted, but the server's certificate is not checked."""
    if not value or verify_tls or not value.startswith("rediss://") or "ssl_cert_reqs" in value:
        return value
    return value + ("&" if "?" in value else "?") + "ssl_cert_reqs=none"


def _login_limits(env: Mapping[str, str]) -> dict[str, str]:
    """``LOGIN_LIMIT_PER_IP`` and ``LOGIN_LIMIT_PER_USERNAME``, checked with Flask-Limiter's
    own parser so a typo stops start-up instead of silently disabling the limit."""
    from limits import parse_many

    values = {
        name: env.get(name, default)
        for name, default in (
            ("LOGIN_LIMIT_PER_IP", "10/minute"),
            ("LOGIN_LIMIT_PER_USERNAME", "5/minute"),
        )
    }
    for name, value in values.items():
        try:
            parse_many(value)
        except ValueError:
            raise ConfigError(
                f"{name} must be a rate like '10/minute' or '100 per hour', got {value!r}."
            ) from None
    return values


def _media_max_bytes(env: Mapping[str, str]) -> int:
    """``MEDIA_MAX_BYTES``: a whole number of bytes from 1 up to Twilio's 150 MB."""
    raw = env.get("MEDIA_MAX_BYTES", str(20 * 1024 * 1024))
    value = int(raw) if raw.isdigit() and len(raw) < 16 else 0
    if not 0 < value <= TWILIO_MEDIA_LIMIT:
        raise ConfigError(
            f"MEDIA_MAX_BYTES must be a number of bytes from 1 to {TWILIO_MEDIA_LIMIT} "
            f"(Twilio's 150 MB), got {raw!r}."
        )
    return value


def _whole_number(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """A setting that is a whole number from ``low`` to ``high``."""
    raw = env.get(name, str(default)).strip()
    value = int(raw) if raw.isdigit() and len(raw) < 16 else -1
    if not low <= value <= high:
        raise ConfigError(f"{name} must be a whole number from {low} to {high}, got {raw!r}.")
    return value


def _event_log_settings(env: Mapping[str, str]) -> dict[str, int]:
    """How much each user's log keeps (what a page that reconnects can catch up on) and how
    long a webhook's de-duplication key is kept (Twilio's retries come within minutes); both
    are Redis memory, planned in docs/scaling.md."""
    return {
        "PARLEY_LOG_MAX_EVENTS": _whole_number(env, "PARLEY_LOG_MAX_EVENTS", 1000, 10, 100_000),
        "PARLEY_LOG_MAX_AGE_SECONDS": _whole_number(
            env, "PARLEY_LOG_MAX_AGE_SECONDS", 24 * 3600, 60, 30 * 24 * 3600
        ),
        "PARLEY_WEBHOOK_DEDUPE_SECONDS": _whole_number(
            env, "PARLEY_WEBHOOK_DEDUPE_SECONDS", 3600, 60, 7 * 24 * 3600
        ),
    }


def _stream_openings(env: Mapping[str, str]) -> int:
    """``STREAM_OPENINGS_IN_FLIGHT``: stream openings a worker serves at once
    (``webapp/stream/admission.py``). An opening waits on Redis round trips, and on the
    database only when its session's user is not cached (then the pool bounds it), so the
    slots are not the pool's: enough to keep a worker's core busy through a deploy's wave,
    and no more (with 64, webhooks waited longer for the CPU and the wave took no less:
    docs/benchmarks.md, "The deploy wave")."""
    return _whole_number(env, "STREAM_OPENINGS_IN_FLIGHT", 32, 1, 1000)


def _session_lifetime(env: Mapping[str, str]) -> float:
    """``SESSION_LIFETIME_HOURS``: a positive number of hours (fractions allowed)."""
    raw = env.get("SESSION_LIFETIME_HOURS", "336")
    try:
        hours = float(raw)
    except ValueError:
        hours = -1.0
    if not 0 < hours < 24 * 366:
        raise ConfigError(
            f"SESSION_LIFETIME_HOURS must be a number of hours above 0 (336 is 14 days), "
            f"got {raw!r}."
        )
    return hours


def _sso_settings(
    env: Mapping[str, str], public_base_url: str, oidc: bool = False
) -> dict[str, object]:
    """The ``PARLEY_SSO_*`` variables (sign-in handed over by a host site, ``webapp/sso``).

    With SSO on, open registration is refused: a stranger could otherwise register the
    username ``42`` and so become the host's user 42 in every conversation the host made.
    """
    from webapp.sso.keys import verification_key

    secret = env.get("PARLEY_SSO_SECRET")
    public_key = env.get("PARLEY_SSO_PUBLIC_KEY")
    try:
        key = verification_key(secret, public_key)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    sso_only = _flag(env.get("PARLEY_SSO_ONLY"))
    issuer = env.get("PARLEY_SSO_ISSUER")
    login_url = env.get("PARLEY_SSO_LOGIN_URL")
    if sso_only and key is None:
        raise ConfigError(
            "PARLEY_SSO_ONLY=1 turns password login off, so it needs PARLEY_SSO_SECRET or "
            "PARLEY_SSO_PUBLIC_KEY: without a key nobody could sign in."
        )
    if key is not None and not issuer:
        raise ConfigError(
            "PARLEY_SSO_ISSUER is required with an SSO key: the `iss` your site puts in its "
            "tokens (e.g. https://www.example.com)."
        )
    if login_url and not re.match(r"https?://", login_url):
        raise ConfigError("PARLEY_SSO_LOGIN_URL must start with http:// or https://.")
    outside_accounts = key is not None or oidc
    registration = _flag(env.get("REGISTRATION_OPEN", "0" if outside_accounts else "1"))
    if outside_accounts and registration:
        raise ConfigError(
            "REGISTRATION_OPEN=1 cannot go with SSO or OpenID Connect: a self-registered "
            "username could be one of your site's or your provider's identities. Unset "
            "REGISTRATION_OPEN (accounts come from there)."
        )
    return {
        "PARLEY_SSO_SECRET": secret,
        "PARLEY_SSO_PUBLIC_KEY": public_key,
        "PARLEY_SSO_ISSUER": issuer,
        "PARLEY_SSO_AUDIENCE": env.get("PARLEY_SSO_AUDIENCE", public_base_url),
        "PARLEY_SSO_ONLY": sso_only,
        "PARLEY_SSO_LOGIN_URL": login_url,
        "REGISTRATION_OPEN": registration,
    }


def _embed_origins(env: Mapping[str, str], public_base_url: str) -> tuple[str, ...]:
    """``PARLEY_EMBED_ORIGINS``: the host sites whose pages may frame Parley
    (``webapp/security.py`` lists them in ``frame-ancestors``).

    A session inside a cross-site frame needs a ``Secure`` cookie, which browsers keep only
    over HTTPS (or on this machine's loopback), so Parley refuses to start where none could
    be kept rather than show a frame where every sign-in silently fails.
    """
    origins: list[str] = []
    for item in env.get("PARLEY_EMBED_ORIGINS", "").split(","):
        origin = item.strip()
        if not origin:
            continue
        match = _ORIGIN.fullmatch(origin.lower().removesuffix("/"))
        if match is None or (match[3] is not None and not 0 < int(match[3]) < 65536):
            raise ConfigError(
                "PARLEY_EMBED_ORIGINS is a comma-separated list of origins like "
                f"https://www.example.com or http://localhost:8000 (no path, no *), got {origin!r}."
            )
        origins.append(match[0])
    url = urlsplit(public_base_url)
    if origins and url.scheme != "https" and url.hostname not in _LOOPBACK_HOSTS:
        raise ConfigError(
            "PARLEY_EMBED_ORIGINS needs Parley served over HTTPS (PUBLIC_BASE_URL=https://...): "
            "browsers keep a cookie inside another site's frame only if it is Secure."
        )
    return tuple(dict.fromkeys(origins))


def _cookie_settings(production: bool, embed_origins: tuple[str, ...]) -> dict[str, object]:
    """The session cookie (which also carries the CSRF token). Inside a cross-site frame a
    browser sends only ``SameSite=None; Secure`` cookies, and Chromium with third-party
    cookies blocked (its incognito default, a user's choice) only ``Partitioned`` ones too: a
    separate cookie per host site, which is all an embedded chat needs."""
    if not embed_origins:
        return {"SESSION_COOKIE_SECURE": production}
    return {
        "PARLEY_EMBED_ORIGINS": embed_origins,
        "SESSION_COOKIE_SAMESITE": "None",
        "SESSION_COOKIE_SECURE": True,
        "SESSION_COOKIE_PARTITIONED": True,
    }


_OIDC_VARIABLES = ("PARLEY_OIDC_ISSUER", "PARLEY_OIDC_CLIENT_ID", "PARLEY_OIDC_CLIENT_SECRET")


_VAPID_VARIABLES = ("PARLEY_VAPID_PUBLIC_KEY", "PARLEY_VAPID_PRIVATE_KEY")


def _b64url_bytes(value: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (ValueError, binascii.Error):
        return None


def _vapid_settings(env: Mapping[str, str], public_base_url: str) -> dict[str, object]:
    """``PARLEY_VAPID_*``: Web Push (``webapp/push``). Both keys or neither; their shapes are
    checked here, their pairing when the sender is built (``flask push keys`` makes a pair)."""
    given = [name for name in _VAPID_VARIABLES if env.get(name)]
    if not given:
        return {}
    if len(given) != len(_VAPID_VARIABLES):
        raise ConfigError(
            "PARLEY_VAPID_PUBLIC_KEY and PARLEY_VAPID_PRIVATE_KEY go together: make a pair with "
            "`flask --app wsgi push keys`."
        )
    public = _b64url_bytes(env["PARLEY_VAPID_PUBLIC_KEY"])
    if public is None or len(public) != 65 or public[0] != 4:
        raise ConfigError(
            "PARLEY_VAPID_PUBLIC_KEY must be a P-256 public key, uncompressed, base64url "
            "(87 characters), as `flask --app wsgi push keys` prints it."
        )
    if _b64url_bytes(env["PARLEY_VAPID_PRIVATE_KEY"]) is None:
        raise ConfigError("PARLEY_VAPID_PRIVATE_KEY must be base64url, as `push keys` prints it.")
    subject = env.get("PARLEY_VAPID_SUBJECT") or public_base_url
    if not subject.startswith(("mailto:", "https://", "http://")):
        raise ConfigError("PARLEY_VAPID_SUBJECT must be a mailto: or https:// URL.")
    return {
        "PARLEY_VAPID_PUBLIC_KEY": env["PARLEY_VAPID_PUBLIC_KEY"],
        "PARLEY_VAPID_PRIVATE_KEY": env["PARLEY_VAPID_PRIVATE_KEY"],
        "PARLEY_VAPID_SUBJECT": subject,
    }


def _oidc_settings(env: Mapping[str, str], production: bool) -> dict[str, object]:
    """``PARLEY_OIDC_*``: "Sign in with …" an OpenID Connect provider (``webapp/oidc``).
    The three go together; the button's label defaults to the issuer's host name."""
    given = [name for name in _OIDC_VARIABLES if env.get(name)]
    if not given:
        return {}
    missing = [name for name in _OIDC_VARIABLES if name not in given]
    if missing:
        raise ConfigError(
            f"{', '.join(missing)} missing: OpenID Connect needs PARLEY_OIDC_ISSUER, "
            "PARLEY_OIDC_CLIENT_ID and PARLEY_OIDC_CLIENT_SECRET (from your provider)."
        )
    issuer = env["PARLEY_OIDC_ISSUER"]  # compared exactly with `iss`: a trailing / counts
    parts = urlsplit(issuer)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
        raise ConfigError(f"PARLEY_OIDC_ISSUER must be the provider's issuer URL, got {issuer!r}.")
    if production and parts.scheme != "https":
        raise ConfigError("PARLEY_OIDC_ISSUER must be https:// in production.")
    return {
        "PARLEY_OIDC_ISSUER": issuer,
        "PARLEY_OIDC_CLIENT_ID": env["PARLEY_OIDC_CLIENT_ID"],
        "PARLEY_OIDC_CLIENT_SECRET": env["PARLEY_OIDC_CLIENT_SECRET"],
        "PARLEY_OIDC_NAME": env.get("PARLEY_OIDC_NAME") or parts.hostname,
    }


@dataclass(frozen=True)
class Config:
    """Every setting Parley has. Upper-case fields are copied into ``app.config`` too."""

    SECRET_KEY: str
    SQLALCHEMY_DATABASE_URI: str
    REDIS_URL: str | None
    TWILIO_ACCOUNT_SID: str
    TWILIO_AUTH_TOKEN: str
    TWILIO_API_KEY_SID: str
    TWILIO_API_KEY_SECRET: str
    TWILIO_CONVERSATIONS_SERVICE_SID: str
    TWILIO_PHONE_NUMBER: str | None
    #: The WhatsApp sender (E.164, without ``whatsapp:``) that WhatsApp participants of groups
    #: are reached from; unset, adding one is refused with a 4xx that names this setting.
    TWILIO_WHATSAPP_NUMBER: str | None
    TWILIO_EMULATOR_URL: str | None
    #: Each user's event log keeps at least this many events (Redis trims by whole nodes, up
    #: to about 100 more), none older than this: a page
    #: that reconnects within them catches up exactly; past them it reloads (a resync).
    PARLEY_LOG_MAX_EVENTS: int
    PARLEY_LOG_MAX_AGE_SECONDS: int
    #: A webhook's de-duplication key lives this long (Twilio's retries come within minutes).
    PARLEY_WEBHOOK_DEDUPE_SECONDS: int
    #: Stream openings a worker serves at once; the rest wait briefly or are turned away.
    STREAM_OPENINGS_IN_FLIGHT: int
    PUBLIC_BASE_URL: str
    TRUST_PROXY: bool
    HOST: str
    PORT: int
    DEMO_PASSWORD: str | None
    LIVE_TWILIO: bool
    PRODUCTION: bool
    #: ``REDIS_URL`` names one node of a Redis Cluster: Parley's client is redis-py's
    #: ``RedisCluster``, which finds the other nodes from it, and the broker is
    #: ``webapp/events/redis_cluster_broker.py``.
    REDIS_CLUSTER: bool = False
    #: Bearer token for ``GET /metrics``; unset, the endpoint answers 404.
    METRICS_TOKEN: str | None = None
    #: SQLite file where the in-process emulator keeps its conversations across restarts.
    TWILIO_EMULATOR_PERSIST: str | None = None
    #: ``json`` (one JSON object per line; the production default) or ``plain``.
    LOG_FORMAT: str = "plain"
    TESTING: bool = False
    SESSION_COOKIE_HTTPONLY: bool = True
    SESSION_COOKIE_SAMESITE: str = "Lax"
    SESSION_COOKIE_SECURE: bool = False
    SESSION_COOKIE_PARTITIONED: bool = False
    WTF_CSRF_TIME_LIMIT: int | None = None
    #: Database connections per worker process: the pool's size, how many more it opens at a
    #: peak, and how long a request waits for one before it is answered 503 (a stream opening
    #: is turned away to come back later instead, see ``webapp/stream/admission.py``). The
    #: wait is short: SQLAlchemy's 30 s default let a burst of stream openings queue into 500s.
    DB_POOL_SIZE: int = 5
    DB_POOL_OVERFLOW: int = 10
    DB_POOL_TIMEOUT: float = 2.0
    #: Twilio's limit for a chat message body (32 KB); Parley checks it before calling Twilio.
    MAX_MESSAGE_BODY: int = 32 * 1024
    #: Requests larger than this are refused with 413 before any handler runs.
    MAX_CONTENT_LENGTH: int = 256 * 1024
    #: Where media bytes go (Twilio's Media Content Service); unset in emulator mode, the
    #: emulator's ``/mcs`` (see :attr:`mcs_url`).
    TWILIO_MCS_URL: str | None = None
    #: The largest file a user may send. 20 MB holds a phone's photos, short video clips and
    #: everyday documents while keeping one upload short enough for a router's 30 s request
    #: window on an ordinary uplink; Twilio allows up to 150 MB, never more.
    MEDIA_MAX_BYTES: int = 20 * 1024 * 1024
    #: Failed logins allowed per client IP, and per username (Flask-Limiter syntax).
    LOGIN_LIMIT_PER_IP: str = "10/minute"
    LOGIN_LIMIT_PER_USERNAME: str = "5/minute"
    #: A login lasts this long after the user's last request (any page, API call or stream
    #: opening renews it); then the session expires and its open streams end.
    SESSION_LIFETIME_HOURS: float = 14 * 24.0
    #: Whether anyone who reaches the site may create an account (``/register``). Off, only
    #: ``flask users create`` makes accounts, as a private deployment wants.
    REGISTRATION_OPEN: bool = True
    #: Sign-in handed over by a host site (``webapp/sso``): the key its tokens are checked
    #: with (a shared secret for HS256, or a PEM public key), the ``iss`` and ``aud`` they
    #: must carry, password login off, and where people sign in instead.
    PARLEY_SSO_SECRET: str | None = None
    PARLEY_SSO_PUBLIC_KEY: str | None = None
    PARLEY_SSO_ISSUER: str | None = None
    PARLEY_SSO_AUDIENCE: str | None = None
    PARLEY_SSO_ONLY: bool = False
    PARLEY_SSO_LOGIN_URL: str | None = None
    #: Whether people can search for others by name to start a conversation
    #: (``GET /api/users?q=``). Off, that answers 404 and the page says the site makes them.
    PARLEY_DIRECTORY: bool = True
    #: Host sites whose pages may show Parley in a frame (origins, e.g. https://example.com).
    #: Set, the session cookie is ``SameSite=None; Secure; Partitioned`` so that it works
    #: inside their frames (docs/embedding.md says what works in which browser).
    PARLEY_EMBED_ORIGINS: tuple[str, ...] = ()
    #: "Sign in with …" an OpenID Connect provider (``webapp/oidc``): its issuer (discovery
    #: reads ``<issuer>/.well-known/openid-configuration``), this client's credentials there,
    #: and the name on the button.
    PARLEY_OIDC_ISSUER: str | None = None
    PARLEY_OIDC_CLIENT_ID: str | None = None
    PARLEY_OIDC_CLIENT_SECRET: str | None = None
    PARLEY_OIDC_NAME: str | None = None
    #: Web Push (``webapp/push``): the VAPID key pair push services check each request
    #: against (base64url, as ``flask push keys`` prints them), and the contact they are
    #: given (``mailto:`` or ``https://``). Without keys there is no push.
    PARLEY_VAPID_PUBLIC_KEY: str | None = None
    PARLEY_VAPID_PRIVATE_KEY: str | None = None
    PARLEY_VAPID_SUBJECT: str | None = None

    @property
    def push_enabled(self) -> bool:
        return bool(self.PARLEY_VAPID_PUBLIC_KEY and self.PARLEY_VAPID_PRIVATE_KEY)

    @property
    def oidc_enabled(self) -> bool:
        return self.PARLEY_OIDC_ISSUER is not None

    @property
    def oidc_redirect_uri(self) -> str:
        """The callback to register with the provider (it must match exactly)."""
        return self.PUBLIC_BASE_URL.rstrip("/") + "/oidc/callback"

    @property
    def frame_ancestors(self) -> str:
        """CSP's ``frame-ancestors``: nobody may frame Parley unless a host site is listed."""
        if not self.PARLEY_EMBED_ORIGINS:
            return "'none'"
        return " ".join(("'self'", *self.PARLEY_EMBED_ORIGINS))

    @property
    def sso_enabled(self) -> bool:
        """A host site may sign its users in (``POST /sso/login``)."""
        return bool(self.PARLEY_SSO_SECRET or self.PARLEY_SSO_PUBLIC_KEY)

    #: gunicorn's worker processes (``gunicorn.conf.py``; Heroku sets it per dyno size).
    WEB_CONCURRENCY: int = 1

    @property
    def PERMANENT_SESSION_LIFETIME(self) -> timedelta:  # noqa: N802 - Flask reads app.config
        return timedelta(hours=self.SESSION_LIFETIME_HOURS)

    @property
    def SQLALCHEMY_ENGINE_OPTIONS(self) -> dict[str, object]:  # noqa: N802 - Flask-SQLAlchemy
        options: dict[str, object] = {"pool_pre_ping": True}
        url = make_url(self.SQLALCHEMY_DATABASE_URI)
        if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
            return options  # one shared connection (Flask-SQLAlchemy's StaticPool): no pool
        options.update(
            pool_size=self.DB_POOL_SIZE,
            max_overflow=self.DB_POOL_OVERFLOW,
            pool_timeout=self.DB_POOL_TIMEOUT,
        )
        return options

    @property
    def RATELIMIT_STORAGE_URI(self) -> str:  # noqa: N802 - Flask-Limiter reads app.config
        """Where Flask-Limiter counts: Redis when ``REDIS_URL`` is set (shared by every worker
        and dyno), else this process's memory. On a cluster, limits' own cluster storage
        (``redis+cluster://``, which takes no pool of ours); TLS goes in its options
        (:attr:`ratelimit_cluster_options`)."""
        if not self.REDIS_URL:
            return "memory://"
        if not self.REDIS_CLUSTER:
            return self.REDIS_URL
        url = urlsplit(self.REDIS_URL)
        credentials = url.netloc.rpartition("@")[0]
        node = f"{url.hostname}:{url.port or 6379}"
        return f"redis+cluster://{credentials + '@' if credentials else ''}{node}"

    @property
    def ratelimit_cluster_options(self) -> dict[str, object]:
        """The limiter's ``RedisCluster`` options on a cluster: a small bounded pool per node,
        short waits, and TLS as ``REDIS_URL`` asks (``rediss://``, ``REDIS_VERIFY_TLS``)."""
        options: dict[str, object] = {
            "max_connections": 2,
            "socket_timeout": 5,
            "socket_connect_timeout": 5,
        }
        if self.REDIS_URL and self.REDIS_URL.startswith("rediss://"):
            options["ssl"] = True
            if "ssl_cert_reqs=none" in self.REDIS_URL:
                options["ssl_cert_reqs"] = "none"
        return options

    @property
    def emulator_in_process(self) -> bool:
        """True when the emulator runs inside this server (no ``TWILIO_EMULATOR_URL``)."""
        return not self.LIVE_TWILIO and not self.TWILIO_EMULATOR_URL

    @property
    def emulator_origin(self) -> str | None:
        """Where REST calls go instead of ``*.twilio.com``; ``None`` in live mode."""
        if self.LIVE_TWILIO:
            return None
        if self.TWILIO_EMULATOR_URL:
            return self.TWILIO_EMULATOR_URL.rstrip("/")
        host = "127.0.0.1" if self.HOST in ("0.0.0.0", "", "::") else self.HOST
        return f"http://{host}:{self.PORT}{EMULATOR_MOUNT_PATH}"

    @property
    def mcs_url(self) -> str:
        """The Media Content Service's origin: ``TWILIO_MCS_URL``, else Twilio's in live mode
        and the emulator's ``/mcs`` otherwise."""
        if self.TWILIO_MCS_URL:
            return self.TWILIO_MCS_URL.rstrip("/")
        origin = self.emulator_origin
        return f"{origin}/mcs" if origin else LIVE_MCS_URL

    @property
    def webhook_url(self) -> str:
        """The public URL Twilio calls; also the URL its signature is computed over."""
        return self.PUBLIC_BASE_URL.rstrip("/") + "/twilio/webhook"

    def check_can_serve(self, workers: int) -> None:
        """Refuse a web server that would misbehave; called once by gunicorn before forking.

        Commands (``db upgrade``, ``twilio setup``) may run with less, which is why these
        checks are not part of :meth:`from_env`.
        """
        if self.LIVE_TWILIO and not self.TWILIO_CONVERSATIONS_SERVICE_SID:
            raise ConfigError(
                "TWILIO_CONVERSATIONS_SERVICE_SID is not set: run "
                "`flask --app wsgi twilio setup --public-url https://<your-app>` and set the "
                "value it prints."
            )
        if self.PRODUCTION and self.SQLALCHEMY_DATABASE_URI.startswith("sqlite"):
            raise ConfigError(
                "PARLEY_ENV=production needs DATABASE_URL (a SQLite file on a dyno is lost at "
                "every deploy): add PostgreSQL (`heroku addons:create heroku-postgresql`) or set "
                "DATABASE_URL."
            )
        if workers > 1 and not self.REDIS_URL:
            raise ConfigError(
                f"WEB_CONCURRENCY={workers} needs REDIS_URL (the in-process broker lives in one "
                "process): set REDIS_URL, or WEB_CONCURRENCY=1."
            )
        if workers > 1 and self.emulator_in_process:
            raise ConfigError(
                f"WEB_CONCURRENCY={workers} needs a standalone emulator or live Twilio: set "
                "TWILIO_EMULATOR_URL (see `flask --app wsgi emulator run`), or WEB_CONCURRENCY=1."
            )

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        require_service_sid: bool = True,
        **overrides: object,
    ) -> Config:
        """Build and validate the configuration; raise :class:`ConfigError` naming the problem.

        ``require_service_sid=False`` lets live mode start without a Conversations service,
        so that ``flask twilio setup`` and ``flask db upgrade`` can run before one is chosen;
        :meth:`check_can_serve` still refuses to serve without it.
        """
        env = dict(os.environ if environ is None else environ)
        env = {k: v for k, v in env.items() if v != ""}
        production = env.get("PARLEY_ENV", "").lower() == "production"
        host = env.get("HOST", "127.0.0.1")
        try:
            port = int(env.get("PORT", "5000"))
        except ValueError:
            raise ConfigError(f"PORT must be a number, got {env['PORT']!r}.") from None
        raw_workers = env.get("WEB_CONCURRENCY", "1")
        if not raw_workers.strip().isdigit() or int(raw_workers) < 1:
            raise ConfigError(
                f"WEB_CONCURRENCY must be a whole number from 1, got {raw_workers!r}."
            )

        secret_key = env.get("SECRET_KEY")
        if not secret_key:
            if production:
                raise ConfigError(
                    "SECRET_KEY is required in production: set it to a long random string, "
                    "e.g. the output of `python -c 'import secrets; print(secrets.token_hex(32))'`."
                )
            secret_key = secrets.token_hex(32)

        live = "TWILIO_ACCOUNT_SID" in env
        if live:
            # Without a service SID, `twilio setup` finds or creates the service.
            optional = () if require_service_sid else ("TWILIO_CONVERSATIONS_SERVICE_SID",)
            for name, pattern in _LIVE_VARIABLES:
                value = env.get(name)
                if not value and name in optional:
                    continue
                if not value:
                    raise ConfigError(
                        f"{name} is required when TWILIO_ACCOUNT_SID is set (live Twilio mode); "
                        "find it in the Twilio console, or unset TWILIO_ACCOUNT_SID to use the "
                        "local emulator."
                    )
                if not re.fullmatch(pattern, value):
                    raise ConfigError(
                        f"{name} does not look right (expected {pattern}): copy it again from "
                        "the Twilio console."
                    )
            twilio = {name: env.get(name, "") for name, _ in _LIVE_VARIABLES}
        else:
            twilio = {
                "TWILIO_ACCOUNT_SID": EMULATOR_ACCOUNT_SID,
                "TWILIO_AUTH_TOKEN": env.get("TWILIO_AUTH_TOKEN", EMULATOR_AUTH_TOKEN),
                "TWILIO_API_KEY_SID": EMULATOR_API_KEY_SID,
                "TWILIO_API_KEY_SECRET": EMULATOR_API_KEY_SECRET,
                "TWILIO_CONVERSATIONS_SERVICE_SID": EMULATOR_SERVICE_SID,
            }
        phone = env.get("TWILIO_PHONE_NUMBER")
        if phone and not _E164.fullmatch(phone):
            raise ConfigError(
                f"TWILIO_PHONE_NUMBER must be in E.164 form like +15551234567, got {phone!r}."
            )
        whatsapp = (env.get("TWILIO_WHATSAPP_NUMBER") or "").removeprefix("whatsapp:") or None
        if whatsapp and not _E164.fullmatch(whatsapp):
            raise ConfigError(
                "TWILIO_WHATSAPP_NUMBER must be your WhatsApp sender in E.164 form like "
                f"+14155238886 (whatsapp: in front is allowed), got {whatsapp!r}."
            )
        public_base_url = env.get("PUBLIC_BASE_URL") or (
            f"http://{'127.0.0.1' if host in ('0.0.0.0', '', '::') else host}:{port}"
        )
        if not re.match(r"https?://", public_base_url):
            raise ConfigError("PUBLIC_BASE_URL must start with http:// or https://.")

        oidc = _oidc_settings(env, production)

        mcs_url = env.get("TWILIO_MCS_URL")
        if mcs_url and not re.match(r"https?://", mcs_url):
            raise ConfigError("TWILIO_MCS_URL must start with http:// or https://.")

        redis_cluster = _flag(env.get("REDIS_CLUSTER"))
        if redis_cluster and not env.get("REDIS_URL"):
            raise ConfigError(
                "REDIS_CLUSTER=1 needs REDIS_URL naming one node of the cluster "
                "(e.g. redis://10.0.0.5:6379)."
            )
        if redis_cluster and not env["REDIS_URL"].startswith(("redis://", "rediss://")):
            raise ConfigError("REDIS_CLUSTER=1 needs a redis:// or rediss:// REDIS_URL.")

        log_format = env.get("LOG_FORMAT", "json" if production else "plain").lower()
        if log_format not in _LOG_FORMATS:
            raise ConfigError(f"LOG_FORMAT must be plain or json, got {log_format!r}.")

        values: dict[str, object] = {
            "SECRET_KEY": secret_key,
            "SQLALCHEMY_DATABASE_URI": _database_url(env.get("DATABASE_URL")),
            "REDIS_URL": _redis_url(
                env.get("REDIS_URL"), verify_tls=_flag(env.get("REDIS_VERIFY_TLS", "1"))
            ),
            "REDIS_CLUSTER": redis_cluster,
            **twilio,
            "TWILIO_PHONE_NUMBER": phone,
            "TWILIO_WHATSAPP_NUMBER": whatsapp,
            "TWILIO_EMULATOR_URL": None if live else env.get("TWILIO_EMULATOR_URL"),
            "TWILIO_EMULATOR_PERSIST": None if live else env.get("TWILIO_EMULATOR_PERSIST"),
            "PUBLIC_BASE_URL": public_base_url.rstrip("/"),
            "TRUST_PROXY": _flag(env.get("TRUST_PROXY")),
            "HOST": host,
            "PORT": port,
            "DEMO_PASSWORD": env.get("DEMO_PASSWORD"),
            "LIVE_TWILIO": live,
            "PRODUCTION": production,
            "METRICS_TOKEN": env.get("METRICS_TOKEN"),
            "TWILIO_MCS_URL": mcs_url,
            "MEDIA_MAX_BYTES": _media_max_bytes(env),
            "LOG_FORMAT": log_format,
            **_login_limits(env),
            "SESSION_LIFETIME_HOURS": _session_lifetime(env),
            **_sso_settings(env, public_base_url.rstrip("/"), oidc=bool(oidc)),
            **oidc,
            **_cookie_settings(production, _embed_origins(env, public_base_url)),
            "WEB_CONCURRENCY": int(raw_workers),
            "PARLEY_DIRECTORY": _directory(env.get("PARLEY_DIRECTORY")),
            **_event_log_settings(env),
            "STREAM_OPENINGS_IN_FLIGHT": _stream_openings(env),
            **_vapid_settings(env, public_base_url.rstrip("/")),
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
