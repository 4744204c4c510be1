"""``python -m bench.opening_cost``: CPU per stream opening in one process, lean path vs
Flask's route, on a real Redis broker.

Each opening is a WSGI call with its own user's session cookie (a deploy's wave: every page
reconnects once, so the per-session cache misses) or, with ``--same-session``, one cookie for
all (a session's tabs and retries: the cache hits). Its first two pieces are read (the preamble
and ``resync``/``resumed``), then it is closed. gunicorn's HTTP parsing is not included.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from flask_login.utils import _create_identifier
from sqlalchemy import insert
from werkzeug.test import EnvironBuilder

from bench import procs
from webapp import create_app
from webapp.config import Config
from webapp.extensions import db
from webapp.models import User
from webapp.stream.fast_path import StreamFastPath

UA = "Mozilla/5.0 (bench)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--opens", type=int, default=2000)
    parser.add_argument("--same-session", action="store_true")
    args = parser.parse_args()
    redis_server = procs.start_redis()
    workdir = Path(tempfile.mkdtemp(prefix="parley-opening-cost-"))
    env = procs.base_env(
        SECRET_KEY="opening-cost",
        DATABASE_URL=f"sqlite:///{workdir / 'p.db'}",
        TWILIO_AUTH_TOKEN="opening-cost-token-0123456789",
    )
    # Twilio's stand-in in a process of its own, as in bench.run: presence asks it for contacts.
    emulator = procs.start_emulator(env, workdir / "emulator.log")
    env.update(REDIS_URL=redis_server.url, TWILIO_EMULATOR_URL=emulator.url)
    app = create_app(Config.from_env(env, require_service_sid=False))
    logging.getLogger().setLevel(logging.WARNING)
    try:
        environs = _environs(app, args.opens, args.same_session)
        lean: Any = app.wsgi_app
        while not isinstance(lean, StreamFastPath):
            lean = lean.wsgi_app if hasattr(lean, "wsgi_app") else lean.app
        for name, wsgi in (("flask route", lean.wsgi_app), ("lean path", app.wsgi_app)):
            _open_all(wsgi, environs[:50])  # warm-up
            cpu = _open_all(wsgi, environs)
            per_open_us = cpu / len(environs) * 1e6
            print(f"{name}: {per_open_us:.0f} µs CPU per opening, this thread ({len(environs)})")
    finally:
        app.extensions["parley"].broker.close()
        redis_server.stop()
        emulator.stop()


def _environs(app: Any, n: int, same: bool) -> list[dict[str, Any]]:
    with app.app_context():
        db.create_all()
        rows = [{"username": f"u{k}", "identity": f"u{k}", "password_hash": ""} for k in range(n)]
        db.session.execute(insert(User), rows)
        db.session.commit()
        ids = [f"{u.id}:0" for u in db.session.execute(db.select(User)).scalars()]
    with app.test_request_context(headers={"User-Agent": UA}):
        client = _create_identifier()
    serializer = app.session_interface.get_signing_serializer(app)
    out = []
    for k in range(n):
        session = {"_user_id": ids[0 if same else k], "_fresh": True, "_id": client}
        session["_permanent"] = True
        cookie = f"session={serializer.dumps(session)}"
        builder = EnvironBuilder("/stream", headers=[("User-Agent", UA), ("Cookie", cookie)])
        out.append(builder.get_environ())
    return out


def _open_all(wsgi: Any, environs: list[dict[str, Any]]) -> float:
    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        assert status.startswith("200"), status

    started = time.thread_time()
    for environ in environs:
        body = wsgi(dict(environ), start_response)
        pieces = iter(body)
        next(pieces)
        next(pieces)
        body.close()
    return time.thread_time() - started


if __name__ == "__main__":
    main()
