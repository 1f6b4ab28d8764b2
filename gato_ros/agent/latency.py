"""Rolling tick-latency statistics: p50/p99 and deadline misses, for the agent's diagnostics."""

from __future__ import annotations

from collections import deque

import numpy as np


class LatencyStats:
    """Keeps the last `window` tick durations and counts ticks longer than the deadline (all time)."""

    def __init__(self, deadline_s: float, window: int = 1000) -> None:
        if deadline_s <= 0:
            raise ValueError(f"deadline_s must be > 0, got {deadline_s}")
        self.deadline_s = deadline_s
        self._samples: deque[float] = deque(maxlen=window)
        self.count = 0
        self.misses = 0

    def record(self, duration_s: float) -> None:
        self._samples.append(duration_s)
        self.count += 1
        if duration_s > self.deadline_s:
            self.misses += 1

    def percentile(self, q: float) -> float:
        """q-th percentile (0..100) of the window in seconds; NaN when empty."""
        return float(np.percentile(np.fromiter(self._samples, float), q)) if self._samples else float("nan")

    @property
    def p50(self) -> float:
        return self.percentile(50)

    @property
    def p99(self) -> float:
        return self.percentile(99)

    def summary(self) -> dict[str, float]:
        """Values for diagnostics (milliseconds)."""
        return {"ticks": self.count, "p50_ms": 1e3 * self.p50, "p99_ms": 1e3 * self.p99,
                "deadline_ms": 1e3 * self.deadline_s, "deadline_misses": self.misses}
