"""gunicorn settings for Parley: gevent workers holding many long-lived SSE streams.

The settings come from :class:`Config` (``WEB_CONCURRENCY``: worker processes, which Heroku
sets per dyno size; ``HOST`` and ``PORT``: the address; ``TRUST_PROXY``). Before forking,
:meth:`Config.check_can_serve` refuses set-ups that cannot work (more than one worker without
Redis, live Twilio without a service), each with one line naming the problem and the fix.
"""

from gevent import monkey

# Patch before anything else is imported here (the config check below imports the app's
# modules), as the gevent worker would do later: otherwise ssl is imported unpatched.
monkey.patch_all()

import os  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from typing import NoReturn  # noqa: E402

# Workers keep their metrics in files here so that whichever answers /metrics reports the
# whole server (prometheus_client's multiprocess mode). It must be set before the app, and
# so prometheus_client, is imported below; a fresh directory per start means no stale counts.
_OWN_METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR" not in os.environ
if _OWN_METRICS_DIR:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="parley-metrics-")


def _remove_own_metrics_dir() -> None:
    if _OWN_METRICS_DIR:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)


from webapp.config import Config, ConfigError  # noqa: E402
from webapp.services import get_services  # noqa: E402


def _refuse(error: ConfigError) -> NoReturn:
    """One line on stderr naming the problem and its fix (a traceback would bury it)."""
    print(f"Parley cannot start: {error}", file=sys.stderr, flush=True)
    _remove_own_metrics_dir()
    os._exit(3)  # gunicorn would print a traceback for SystemExit


try:
    _config = Config.from_env(require_service_sid=False)
except ConfigError as exc:
    _refuse(exc)

worker_class = "gevent"
workers = _config.WEB_CONCURRENCY
# Requests in progress per worker. A stream counts only until its first bytes are out: then
# the stream writer holds its connection (docs/stream.md), so what bounds streams per worker
# is the open-file limit, raised to its hard maximum in post_worker_init.
worker_connections = 12000
bind = f"{_config.HOST}:{_config.PORT}"
# Streams are long-lived but gevent keeps the worker's heartbeat going, so the usual timeout
# only catches a truly stuck worker. On SIGTERM, streams get a few seconds to end cleanly
# (Heroku allows 30 s between SIGTERM and SIGKILL).
timeout = 30
graceful_timeout = 10
keepalive = 5
# The app logs one line per request itself (with a request id, JSON in production).
accesslog = None
errorlog = "-"
# No runtime control socket: several Parleys (tests, dynos) may share a machine.
control_socket_disable = True
forwarded_allow_ips = "*" if _config.TRUST_PROXY else "127.0.0.1"


def post_worker_init(worker):  # type: ignore[no-untyped-def]
    """On SIGTERM (every dyno restart), end this worker's streams at once with a retry hint,
    so browsers reconnect to another worker and replay, instead of hanging until killed."""
    import gevent

    def end_streams_on_exit() -> None:
        while worker.alive:
            gevent.sleep(0.25)
        _end_streams(worker)

    gevent.spawn(end_streams_on_exit)
    # Messages whose webhooks failed while no worker was up: published in the background.
    services = _parley_services(worker)
    if services is not None:
        services.catch_up.start()

    # Every held stream is an open socket: allow as many as the system lets this process have.
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):  # an unlimited hard limit the kernel will not grant
        worker.log.info("open-file limit stays at %s", soft)

    # Start-up objects (modules, the app, its config) live as long as the worker: move them
    # out of the cyclic collector's sight, and collect the young generation less often, since
    # thousands of open streams make every collection walk a large heap.
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(7000, 20, 20)


def worker_exit(server, worker):  # type: ignore[no-untyped-def]
    """Streams handed to the stream writer hold no request greenlet, so the worker may reach
    here before its shutdown watcher has ended them: end them now (a second call is a no-op)."""
    _end_streams(worker)


def _end_streams(worker):  # type: ignore[no-untyped-def]
    """Every stream of this worker: the stream writer's at once, each told when to come back,
    then those still written by their own request (their broker subscriptions closed)."""
    services = _parley_services(worker)
    if services is None:
        return
    services.stream_writer.close_all()
    services.broker.close()


def _parley_services(worker):  # type: ignore[no-untyped-def]
    """Parley's services, or None when the worker serves another app: the benchmark runs its
    peers (``bench/flask_sse_app.py``, ``bench/hub_app.py``) under these same settings."""
    if "parley" not in getattr(worker.wsgi, "extensions", {}):
        return None
    return get_services(worker.wsgi)


def on_starting(server):  # type: ignore[no-untyped-def]
    """Refuse set-ups that cannot work, with one line on stderr, before any worker starts."""
    try:
        _config.check_can_serve(server.cfg.workers)
    except ConfigError as exc:
        _refuse(exc)


def child_exit(server, worker):  # type: ignore[no-untyped-def]
    """A dead worker's streams are gone: stop counting them as open."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):  # type: ignore[no-untyped-def]
    _remove_own_metrics_dir()
