"""Transport effects the sim node injects between the physics and the ROS topics: a DelayLine holds each message
from the sim time it was measured (its stamp) until that time + latency + jitter, drops a share of them, and never
lets a later message overtake an earlier one (one DDS connection delivers in order). Pure logic, seeded."""

from __future__ import annotations

import math
from typing import Generic, TypeVar

import numpy as np

T = TypeVar("T")


class TransportError(ValueError):
    """A latency, jitter or drop rate out of range."""


class DelayLine(Generic[T]):
    """Items pushed at sim time t come out of `due(now)` once now >= t + latency_s + U(0, jitter_s), in push order;
    a share `drop_rate` of them never comes out."""

    def __init__(self, latency_s: float = 0.0, jitter_s: float = 0.0, drop_rate: float = 0.0,
                 rng: np.random.Generator | None = None) -> None:
        for name, value in (("latency_s", latency_s), ("jitter_s", jitter_s)):
            if not (math.isfinite(value) and value >= 0):
                raise TransportError(f"{name} must be finite and >= 0, got {value}")
        if not (0.0 <= drop_rate < 1.0):
            raise TransportError(f"drop_rate must be in [0, 1), got {drop_rate}")
        self.latency_s, self.jitter_s, self.drop_rate = float(latency_s), float(jitter_s), float(drop_rate)
        self._rng = rng if rng is not None else np.random.default_rng(0)
        self._queue: list[tuple[float, float, T]] = []  # (release time, stamp, item), release times non-decreasing
        self.dropped = 0
        self.passed = 0

    @property
    def active(self) -> bool:
        return bool(self.latency_s or self.jitter_s or self.drop_rate)

    def push(self, t: float, item: T) -> bool:
        """Take `item` measured at sim time `t`; False when it is dropped."""
        if self.drop_rate and self._rng.random() < self.drop_rate:
            self.dropped += 1
            return False
        release = t + self.latency_s + (self._rng.uniform(0.0, self.jitter_s) if self.jitter_s else 0.0)
        if self._queue:
            release = max(release, self._queue[-1][0])  # in order: never before the previous one
        self._queue.append((release, t, item))
        return True

    def due(self, now: float) -> list[tuple[float, T]]:
        """(stamp, item) of every held item whose release time has come, oldest first."""
        n = 0
        while n < len(self._queue) and self._queue[n][0] <= now + 1e-12:
            n += 1
        out = [(stamp, item) for _, stamp, item in self._queue[:n]]
        del self._queue[:n]
        self.passed += n
        return out

    def clear(self) -> None:
        self._queue.clear()

    def __len__(self) -> int:
        return len(self._queue)
