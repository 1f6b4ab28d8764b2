"""Rolling latency statistics (p50/p99, deadline misses) and stamp-to-now latency, for the nodes' diagnostics.

Pure logic shared by the agent (inference time, image stamp -> command) and the safety node (image stamp -> the
output that first carries the command answering that image); the graph benchmark reads the same percentiles.
"""

from __future__ import annotations

import threading
from collections import deque

import numpy as np

#: A stamp further than this from the reader's clock is not a latency but another clock (sim time, another host).
MAX_STAMP_LATENCY_S = 10.0
#: A stamp this far in the future still counts (as a latency of about 0): clocks of one host agree to well under this.
STAMP_FUTURE_TOLERANCE_S = 0.005


class LatencyStats:
    """Keeps the last `window` durations and, with a deadline, counts those longer than it (all time). Thread-safe:
    the nodes record on one thread (inference, output) and summarise on another (diagnostics)."""

    def __init__(self, deadline_s: float | None, window: int = 1000) -> None:
        if deadline_s is not None and deadline_s <= 0:
            raise ValueError(f"deadline_s must be > 0, got {deadline_s}")
        self.deadline_s = deadline_s
        self._samples: deque[float] = deque(maxlen=window)
        self._lock = threading.Lock()
        self.count = 0
        self.misses = 0

    def record(self, duration_s: float) -> None:
        with self._lock:
            self._samples.append(duration_s)
            self.count += 1
            if self.deadline_s is not None and duration_s > self.deadline_s:
                self.misses += 1

    def percentile(self, q: float) -> float:
        """q-th percentile (0..100) of the window in seconds; NaN when empty."""
        with self._lock:
            samples = np.fromiter(self._samples, float)
        return float(np.percentile(samples, q)) if samples.size else float("nan")

    @property
    def p50(self) -> float:
        return self.percentile(50)

    @property
    def p99(self) -> float:
        return self.percentile(99)

    def summary(self) -> dict[str, float]:
        """Values for diagnostics (milliseconds)."""
        out = {"ticks": self.count, "p50_ms": 1e3 * self.p50, "p99_ms": 1e3 * self.p99}
        if self.deadline_s is not None:
            out.update(deadline_ms=1e3 * self.deadline_s, deadline_misses=self.misses)
        return out


def stamp_latency_s(now_ns: int, stamp_ns: int) -> float | None:
    """Seconds from `stamp_ns` to `now_ns` (both on the system clock), or None when they cannot be on one clock
    (zero stamp, further apart than MAX_STAMP_LATENCY_S, or in the future by more than the tolerance)."""
    if stamp_ns <= 0:
        return None
    latency = (now_ns - stamp_ns) * 1e-9
    if latency < -STAMP_FUTURE_TOLERANCE_S or latency > MAX_STAMP_LATENCY_S:
        return None
    return max(latency, 0.0)


class StampLatency:
    """Latency from message stamps to now: a LatencyStats of the valid samples plus a count of the refused ones."""

    def __init__(self, window: int = 1000) -> None:
        self.stats = LatencyStats(None, window)
        self.other_clock = 0  # stamps refused by stamp_latency_s: a sim-time or remote clock, not a latency

    def record(self, now_ns: int, stamp_ns: int) -> float | None:
        """Record the latency of one stamp; returns it (seconds), or None when refused (counted)."""
        latency = stamp_latency_s(now_ns, stamp_ns)
        if latency is None:
            self.other_clock += 1
        else:
            self.stats.record(latency)
        return latency

    def summary(self) -> dict[str, float]:
        """count, p50_ms, p99_ms and other_clock, for diagnostics."""
        s = self.stats.summary()
        return {"count": s["ticks"], "p50_ms": s["p50_ms"], "p99_ms": s["p99_ms"], "other_clock": self.other_clock}
