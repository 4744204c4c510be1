"""``python -m bench.plot RESULTS.jsonl OUT.png``: Parley against its peers, from bench results.

Two panels per scenario found in the results: deliveries/s reached, and p99 webhook→stream
latency, each against the offered webhook rate. Reading the JSON lines ``bench.run --out``
appends keeps the plot honest: it shows what was measured, nothing interpolated.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

STYLE = {"parley": ("tab:blue", "o"), "flask-sse": ("tab:red", "s"), "hub": ("tab:green", "^")}


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def plot(records: list[dict[str, Any]], out: Path, note: str) -> None:
    series: dict[tuple[str, int], dict[str, list[dict[str, Any]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for r in records:
        if r["rate"] > 0:  # flat-out intake runs have no offered rate to plot against
            series[(r["scenario"], r["streams"])][r["target"]].append(r)
    panels = sorted(series)
    fig, axes = plt.subplots(len(panels), 2, figsize=(11, 3.6 * len(panels)), squeeze=False)
    for row, key in enumerate(panels):
        scenario, streams = key
        for target, rows in sorted(series[key].items()):
            rows.sort(key=lambda r: r["rate"])
            colour, marker = STYLE.get(target, ("gray", "x"))
            rates = [r["rate"] for r in rows]
            axes[row][0].plot(
                rates,
                [r["deliveries_per_s"] for r in rows],
                marker=marker,
                color=colour,
                label=target,
            )
            axes[row][1].plot(
                rates, [r["p99_ms"] for r in rows], marker=marker, color=colour, label=target
            )
        axes[row][0].set_title(f"{scenario}, {streams} streams: deliveries/s")
        axes[row][1].set_title(f"{scenario}, {streams} streams: p99 webhook→stream (ms)")
        axes[row][1].set_yscale("log")
        for ax in axes[row]:
            ax.set_xlabel("offered signed webhooks/s")
            ax.grid(True, alpha=0.3)
            ax.legend()
        axes[row][1].axhline(100, color="gray", linestyle="--", linewidth=0.8)
    fig.suptitle(f"One gunicorn gevent worker, 2-core machine ({note})")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument(
        "--note", default="preliminary: machine shared", help="the conditions, for the title"
    )
    args = parser.parse_args()
    plot(load(args.results), args.out, args.note)


if __name__ == "__main__":
    main()
