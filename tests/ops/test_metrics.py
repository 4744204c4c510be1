"""`/metrics`: Prometheus text behind a bearer token, fed by the `metrics` API the webhook and
stream code call; with several workers, any worker reports the whole server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.ops.conftest import parley_config
from tests.support.servers import ROOT
from webapp import create_app

TOKEN = "metrics-secret-token"


def samples(text: str) -> dict[str, float]:
    """``{'name{label="v"}': value}`` for every sample in a Prometheus text exposition."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            found[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return found


def test_without_a_token_configured_there_is_no_metrics_endpoint(tmp_path: Path) -> None:
    app = create_app(parley_config(tmp_path))
    assert app.test_client().get("/metrics").status_code == 404


def test_metrics_need_the_bearer_token(tmp_path: Path) -> None:
    client = create_app(parley_config(tmp_path, METRICS_TOKEN=TOKEN)).test_client()
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    right = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert right.status_code == 200
    assert right.mimetype == "text/plain"
    assert "parley_open_streams" in right.text


def test_what_the_code_reports_is_what_prometheus_reads(tmp_path: Path) -> None:
    app = create_app(parley_config(tmp_path, METRICS_TOKEN=TOKEN))
    client = app.test_client()
    metrics = app.extensions["parley"].metrics

    def read() -> dict[str, float]:
        response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        return samples(response.text)

    before = read()
    metrics.stream_opened()
    metrics.stream_opened()
    metrics.stream_closed()
    metrics.events_published(3)
    metrics.event_delivered()
    metrics.webhook("accepted", 0.02)
    metrics.webhook("duplicate", 0.001)
    metrics.webhook("bad_signature", 7.0)
    after = read()

    def delta(name: str) -> float:
        return after[name] - before[name]

    assert delta("parley_open_streams") == 1
    assert delta("parley_events_published_total") == 3
    assert delta("parley_events_delivered_total") == 1
    assert delta('parley_webhooks_total{outcome="accepted"}') == 1
    assert delta('parley_webhooks_total{outcome="duplicate"}') == 1
    assert delta('parley_webhooks_total{outcome="bad_signature"}') == 1
    assert delta('parley_webhooks_total{outcome="deferred"}') == 0  # listed before it happens
    assert delta("parley_webhook_duration_seconds_count") == 3
    assert delta('parley_webhook_duration_seconds_bucket{le="0.025"}') == 2
    assert delta('parley_webhook_duration_seconds_bucket{le="+Inf"}') == 3
    metrics.stream_closed()


WORKER = """
from webapp.ops.metrics import Metrics
metrics = Metrics()
metrics.events_published({n})
metrics.webhook("accepted", 0.01)
metrics.stream_opened()
"""
READER = "from webapp.ops.metrics import Metrics; print(Metrics().render())"


def run_python(code: str, metrics_dir: Path) -> str:
    env = {"PATH": "/usr/bin:/bin", "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def test_several_worker_processes_are_added_up(tmp_path: Path) -> None:
    """What gunicorn.conf.py sets up: each worker writes its numbers to the shared directory;
    whichever worker answers /metrics reports the sum."""
    run_python(WORKER.format(n=2), tmp_path)
    run_python(WORKER.format(n=5), tmp_path)

    total = samples(run_python(READER, tmp_path))

    assert total["parley_events_published_total"] == 7
    assert total['parley_webhooks_total{outcome="accepted"}'] == 2
    assert total["parley_webhook_duration_seconds_count"] == 2
    # Open streams count live processes only (gunicorn's child_exit marks dead ones); these
    # exited without being marked, so their files still count.
    assert total["parley_open_streams"] == 2
