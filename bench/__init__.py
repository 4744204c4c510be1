"""Parley's load benchmark: run by hand (``python -m bench.run``), never by ``make test``.

It starts its own redis-server and the server under test (Parley as the Procfile runs it, or
Flask-SSE in ``bench/flask_sse_app.py`` under the same gunicorn settings), holds N SSE streams
from one process, drives events through signed Twilio-style webhooks, and reports loss,
throughput, latency and cost. See ``docs/benchmarks.md``.
"""
