"""Parley's load benchmark: run by hand (``python -m bench.run``), never by ``make test``.

It starts its own redis-server and the server under test (Parley as the Procfile runs it, or
a peer under the same gunicorn settings: Flask-SSE in ``bench/flask_sse_app.py``, or the
minimal hub loaded from outside the repository by ``bench/hub_app.py``), holds N SSE streams
from one process, drives events through signed Twilio-style webhooks, and reports loss,
throughput, latency and cost. See ``docs/benchmarks.md``.
"""
