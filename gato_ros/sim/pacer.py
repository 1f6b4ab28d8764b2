"""Pacer: how many fixed physics chunks the sim node steps now so that sim time tracks wall time."""

from __future__ import annotations

import math


class Pacer:
    """How many fixed sim chunks to advance now so that sim time tracks wall time * real_time_factor."""

    def __init__(self, chunk_s: float, real_time_factor: float, max_chunks: int = 5) -> None:
        self.chunk_s = chunk_s
        self.rtf = real_time_factor
        self.max_chunks = max_chunks
        self._wall0: float | None = None
        self._sim0 = 0.0
        self.dropped_s = 0.0  # sim time given up because the machine could not keep up

    def restart(self, wall: float, sim: float) -> None:
        self._wall0, self._sim0 = wall, sim
        self._start = (wall, sim)

    def chunks_due(self, wall: float, sim: float) -> int:
        """Chunks to step at wall time `wall` with sim time `sim` (1 when as fast as possible)."""
        if self.rtf == 0:
            return 1
        if self._wall0 is None:
            self.restart(wall, sim)
        behind = self._sim0 + (wall - self._wall0) * self.rtf - sim
        n = int(math.floor(behind / self.chunk_s + 1e-9))
        if n > self.max_chunks:  # too slow: give up the backlog instead of spiralling
            self.dropped_s += (n - self.max_chunks) * self.chunk_s
            self._sim0 -= (n - self.max_chunks) * self.chunk_s
            n = self.max_chunks
        return max(n, 0)

    def achieved(self, wall: float, sim: float) -> float:
        """Sim seconds per wall second since the last restart."""
        if self._wall0 is None or wall <= self._start[0]:
            return 0.0
        return (sim - self._start[1]) / (wall - self._start[0])
