"""Side-by-side timing: interleaved samples of at least `min_time` seconds, medians.

Short bursts measured up to 2x slower and much noisier than sustained work on these
shared machines, so every sample runs for a few hundred milliseconds, and competing
variants alternate within each round so drift hits them alike.
"""

from __future__ import annotations

import gc
import json
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


@dataclass
class Result:
    name: str
    samples: list[float] = field(default_factory=list)  # operations per second

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "median_ops_s": round(self.median, 1),
            "min_ops_s": round(min(self.samples), 1),
            "max_ops_s": round(max(self.samples), 1),
            "samples": [round(x, 1) for x in self.samples],
        }


def sample(op: Callable[[], object], min_time: float) -> float:
    """Run `op` repeatedly for at least `min_time` seconds; return operations per second."""
    gc.collect()
    n, start = 0, time.perf_counter()
    deadline = start + min_time
    while True:
        op()
        n += 1
        if n % 8 == 0 and time.perf_counter() >= deadline:
            break
    return n / (time.perf_counter() - start)


def side_by_side(
    variants: dict[str, Callable[[], object]], *, rounds: int = 3, min_time: float = 0.5
) -> dict[str, Result]:
    """Interleave the variants for `rounds` rounds (after one warm-up round)."""
    results = {name: Result(name) for name in variants}
    for op in variants.values():
        sample(op, min_time / 5)
    for _ in range(rounds):
        for name, op in variants.items():
            results[name].samples.append(sample(op, min_time))
    return results


def machine() -> dict[str, str]:
    import os

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": str(os.cpu_count()),
    }


def save(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    return path


def ratio_table(rows: list[tuple[str, Result, Result]]) -> str:
    """Markdown rows: workload, pyai median, floor median, ratio (pyai / floor throughput)."""
    lines = [
        "| workload | pyai (ops/s, median [min-max]) | raw driver (ops/s) | pyai / raw |",
        "|---|---|---|---|",
    ]
    for label, ours, floor in rows:
        lines.append(
            f"| {label} | {ours.median:,.0f} [{min(ours.samples):,.0f}-{max(ours.samples):,.0f}] "
            f"| {floor.median:,.0f} | {ours.median / floor.median:.2f} |"
        )
    return "\n".join(lines)
