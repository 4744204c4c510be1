"""gunicorn settings for Parley: gevent workers holding many long-lived SSE streams.

``WEB_CONCURRENCY`` sets the number of worker processes (Heroku sets it per dyno size);
``PORT`` and ``HOST`` the address. More than one worker needs Redis (``REDIS_URL``) and a
standalone or real Twilio, because the in-process broker and emulator live in one process.
"""

from gevent import monkey

# Patch before anything else is imported here (the config check below imports the app's
# modules), as the gevent worker would do later: otherwise ssl is imported unpatched.
monkey.patch_all()

import os  # noqa: E402

from webapp.config import Config, ConfigError  # noqa: E402

worker_class = "gevent"
workers = int(os.environ.get("WEB_CONCURRENCY", "1"))
# Each stream holds a connection; a gevent worker handles thousands.
worker_connections = 10000
bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}"
# Streams are long-lived but gevent keeps the worker's heartbeat going, so the usual timeout
# only catches a truly stuck worker. On SIGTERM, streams get a few seconds to end cleanly.
timeout = 30
graceful_timeout = 10
keepalive = 5
accesslog = "-"
errorlog = "-"
# No runtime control socket: several Parleys (tests, dynos) may share a machine.
control_socket_disable = True
forwarded_allow_ips = "*" if os.environ.get("TRUST_PROXY") else "127.0.0.1"


def post_worker_init(worker):  # type: ignore[no-untyped-def]
    """On SIGTERM (every dyno restart), end this worker's streams at once with a retry hint,
    so browsers reconnect to another worker and replay, instead of hanging until killed."""
    import gevent

    def end_streams_on_exit() -> None:
        while worker.alive:
            gevent.sleep(0.25)
        worker.wsgi.extensions["parley"].broker.close()

    gevent.spawn(end_streams_on_exit)


def on_starting(server):  # type: ignore[no-untyped-def]
    """Refuse set-ups that would split users across processes that cannot see each other."""
    try:
        config = Config.from_env()
    except ConfigError as exc:
        raise SystemExit(f"Parley cannot start: {exc}") from None
    if server.cfg.workers > 1 and not config.REDIS_URL:
        raise SystemExit(
            "Parley cannot start: more than one worker needs REDIS_URL (the in-process broker "
            "lives in one process). Set REDIS_URL or WEB_CONCURRENCY=1."
        )
    if server.cfg.workers > 1 and config.emulator_in_process:
        raise SystemExit(
            "Parley cannot start: more than one worker needs a standalone emulator "
            "(TWILIO_EMULATOR_URL, see `flask --app wsgi emulator run`) or live Twilio."
        )
