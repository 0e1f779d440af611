"""A tiny timing helper: run a callable many times, report median / p95 / p99 in milliseconds."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Timing:
    runs: int
    median_ms: float
    p95_ms: float
    p99_ms: float
    min_ms: float
    max_ms: float

    @classmethod
    def from_samples(cls, samples_ms: list[float]) -> Timing:
        if len(samples_ms) < 2:
            raise ValueError("need at least two samples for quantiles")
        # "inclusive" treats the samples as the whole population: p99 of 30 runs stays within the observed range.
        percentiles = statistics.quantiles(samples_ms, n=100, method="inclusive")
        return cls(
            runs=len(samples_ms),
            median_ms=statistics.median(samples_ms),
            p95_ms=percentiles[94],
            p99_ms=percentiles[98],
            min_ms=min(samples_ms),
            max_ms=max(samples_ms),
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def measure(action: Callable[[], object], *, runs: int = 30, warmup: int = 3) -> tuple[Timing, object]:
    """Time ``action`` ``runs`` times after ``warmup`` untimed runs; returns the timing and the last result."""
    result: object = None
    for _ in range(warmup):
        result = action()
    samples: list[float] = []
    for _ in range(runs):
        started = time.perf_counter()
        result = action()
        samples.append((time.perf_counter() - started) * 1000)
    return Timing.from_samples(samples), result


def summarise(samples_ms: list[float]) -> dict[str, Any]:
    """The samples' timing as a JSON-ready dict; with fewer than two (no quantiles), only how many there were."""
    return Timing.from_samples(samples_ms).as_dict() if len(samples_ms) >= 2 else {"runs": len(samples_ms)}
