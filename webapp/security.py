"""Browser-facing protections wired in one place: security headers and the login limiter.

Everything the page loads comes from this origin (``static/``, no inline scripts or styles),
so the Content-Security-Policy can forbid everything else. See ``docs/security.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import redis
from flask import Flask, Response, request
from redis.cluster import RedisCluster

from webapp.config import Config
from webapp.extensions import limiter


def content_security_policy(frame_ancestors: str = "'none'") -> str:
    """The policy: everything from this origin, nothing inline; ``frame_ancestors`` says who
    may show Parley in a frame (nobody, unless host sites are configured)."""
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "font-src 'self'",
            "object-src 'none'",
            f"frame-ancestors {frame_ancestors}",
            "form-action 'self'",
            "base-uri 'self'",
        )
    )


CONTENT_SECURITY_POLICY = content_security_policy()

#: Sent on every response of the Flask app (the emulator under ``/_emulator`` is a separate
#: WSGI app and is not covered; it never serves pages).
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}

#: Blueprints with no rate limit (``limiter.exempt`` in ``create_app``): Twilio's webhooks and
#: the event stream. Their requests skip the limiter's hooks altogether.
UNLIMITED_BLUEPRINTS = frozenset({"webhooks", "stream"})

#: One year, subdomains included: only sent in production, where Parley is served over HTTPS.
HSTS = "max-age=31536000; includeSubDomains"


def response_headers(config: Config) -> dict[str, str]:
    """The security headers every response carries (HSTS only in production, behind TLS);
    also used by the webhook's lean path, which answers without Flask's hooks.

    With ``PARLEY_EMBED_ORIGINS``, ``frame-ancestors`` names those host sites and
    ``X-Frame-Options`` goes: it cannot list origins, and its ``DENY`` would refuse them in
    browsers that read it before the CSP."""
    headers = dict(SECURITY_HEADERS)
    if config.PARLEY_EMBED_ORIGINS:
        headers["Content-Security-Policy"] = content_security_policy(config.frame_ancestors)
        del headers["X-Frame-Options"]
    if config.PRODUCTION:
        headers["Strict-Transport-Security"] = HSTS
    return headers


def init_security(app: Flask, config: Config, client: redis.Redis | RedisCluster | None) -> None:
    """Security headers on every response, and the login rate limiter (Flask-Limiter).

    With Redis, the limiter counts through the process's one command ``client`` (its pool): a
    worker then holds at most 3 Redis connections (2 pooled + pub/sub), not a 4th of its own.
    """
    headers = response_headers(config)

    @app.after_request
    def _add_security_headers(response: Response) -> Response:
        # Setting headers does not touch the body: streamed responses (SSE) stay unbuffered.
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        return response

    app.config["RATELIMIT_STORAGE_OPTIONS"] = limiter_storage_options(config, client)
    # Flask-Limiter adds each app's storage options to those of the apps before it (one
    # extension object): a second app in the process (tests, a CLI building its own) would
    # otherwise count on the first one's Redis pool.
    limiter._storage_options.clear()
    limiter.init_app(app)
    _skip_limiter_hooks(app, UNLIMITED_BLUEPRINTS)


def limiter_storage_options(
    config: Config, client: redis.Redis | RedisCluster | None
) -> dict[str, object]:
    """Flask-Limiter's storage options. On one Redis, limits' RedisStorage takes the
    process's pool (``connection_pool``). On a cluster its storage makes a ``RedisCluster``
    of its own, which takes no pool of ours: a small bounded one per node instead."""
    if config.REDIS_CLUSTER:
        return config.ratelimit_cluster_options
    if isinstance(client, redis.Redis):
        return {"connection_pool": client.connection_pool}
    return {}


def _skip_limiter_hooks(app: Flask, blueprints: frozenset[str]) -> None:
    """Flask-Limiter's before/after hooks run on every request, even where no limit applies
    (about 7 % of a webhook's CPU, profiled); requests to ``blueprints`` (exempt anyway)
    skip them entirely."""

    def unless_exempt_before(hook: Callable[[], Any]) -> Callable[[], Any]:
        def before() -> Any:
            return None if request.blueprint in blueprints else hook()

        return before

    def unless_exempt_after(hook: Callable[[Response], Response]) -> Callable[[Response], Response]:
        def after(response: Response) -> Response:
            return response if request.blueprint in blueprints else hook(response)

        return after

    befores = app.before_request_funcs.get(None, [])
    for n, hook in enumerate(befores):
        if getattr(hook, "__self__", None) is limiter:
            befores[n] = unless_exempt_before(hook)
    afters = app.after_request_funcs.get(None, [])
    for n, after_hook in enumerate(afters):
        if isinstance(after_hook, partial) and after_hook.args[:1] == (limiter,):
            afters[n] = unless_exempt_after(after_hook)
