"""TickPacer: when the safety node's output thread publishes (pure logic on the steady clock, no ROS).

A regular tick every `period_s`. With `wake_on_command` a command's arrival publishes at once (a woken tick), at most
once per regular tick: a woken tick disarms the wake until the next regular tick, which then comes one full period
after the woken one (the grid re-phases to the command). So two ticks are never more than a period apart, and in any
window of one period there are at most two ticks: a command flood can at most double the output rate, and the
regular ticks (and the e-stop, which ticks at once whatever the wake does) never wait behind it.
"""

from __future__ import annotations

import enum


class Tick(str, enum.Enum):
    """Why the output thread publishes now."""

    REGULAR = "regular"
    COMMAND = "command"  # woken by a command's arrival
    ESTOP = "estop"


class TickPacer:
    """Decides at each look whether to tick now, and how long the output thread may wait until it must look again."""

    def __init__(self, period_s: float, wake_on_command: bool, t0: float) -> None:
        if not period_s > 0:
            raise ValueError(f"period_s must be > 0, got {period_s}")
        self.period_s = period_s
        self.wake_on_command = wake_on_command
        self.next_t = t0  # the next regular tick
        self.armed = wake_on_command  # a command's arrival may tick now (the output thread also waits on the intake)
        self.woken_ticks = 0
        self.late_ticks = 0  # regular ticks that found the grid more than a period behind (a stalled machine)

    def tick(self, now: float, command: bool = False, estop: bool = False) -> Tick | None:
        """Tick now (and why) or not, given whether a command arrived and an e-stop came since the last look."""
        if now >= self.next_t:
            self.next_t += self.period_s
            if self.next_t < now:  # fell behind (machine stalled): restart the grid, count it
                self.late_ticks += 1
                self.next_t = now + self.period_s
            self.armed = self.wake_on_command
            return Tick.REGULAR
        if command and self.armed:
            self.armed = False
            self.woken_ticks += 1
            self.next_t = now + self.period_s  # re-phase: the next regular tick one period after this one
            return Tick.COMMAND
        if estop:
            return Tick.ESTOP
        return None

    def wait_s(self, now: float) -> float:
        """Seconds until the next regular tick (the longest the output thread may wait)."""
        return max(0.0, self.next_t - now)
