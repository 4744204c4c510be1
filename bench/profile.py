"""py-spy on the gunicorn worker during a measured phase, summarised to where time goes.

py-spy samples from outside (``--nonblocking``: the worker is never paused), so the profile
costs the measured server next to nothing. The raw output (collapsed stacks) is kept next to
the requested path; the summary lists functions by inclusive and by self share of samples.
"""

from __future__ import annotations

import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench.procs import BIN


@dataclass
class Recording:
    process: subprocess.Popen[bytes]
    path: Path


def start(pid: int, path: Path, duration: float, rate: float) -> Recording:
    """Record ``pid`` for ``duration`` seconds; one file per phase (rate in its name)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    out = path.with_name(f"{path.stem}-{rate:g}{path.suffix or '.txt'}")
    command = [
        str(BIN / "py-spy"),
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(max(1, int(duration))),
        "--rate",
        "200",
        "--format",
        "raw",
        "--nolineno",
        "--nonblocking",
        "--output",
        str(out),
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return Recording(process, out)


def finish(recording: Recording) -> dict[str, list[tuple[str, float]]]:
    try:
        recording.process.wait(30)
    except subprocess.TimeoutExpired:
        recording.process.kill()
        return {}
    return summarise(recording.path) if recording.path.exists() else {}


def summarise(path: Path, top: int = 30) -> dict[str, list[tuple[str, float]]]:
    """``{"inclusive": [...], "self": [...]}``: (function, share of all samples)."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    if not total:
        return {}
    return {
        "inclusive": [(f, n / total) for f, n in inclusive.most_common(top)],
        "self": [(f, n / total) for f, n in own.most_common(top)],
    }
