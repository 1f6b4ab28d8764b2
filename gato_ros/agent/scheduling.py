"""When the agent acts and where: FrameGate admits camera frames at most at the control rate, InferenceWorker runs
one control step at a time on a thread of its own, refusing (and counting) a step asked for while one runs.

No ROS here: the node calls `FrameGate.admit` from its image callback and `InferenceWorker.submit` from its
callbacks, so a slow model never holds up the executor (joint states, services, diagnostics).
"""

from __future__ import annotations

import threading
from typing import Any, Callable


class FrameGate:
    """Admits frames on a grid of `period_s` (arrival times, seconds): a faster camera is decimated to that average
    rate, a slower one passes every frame. `tolerance` (a fraction of the period) absorbs arrival jitter."""

    def __init__(self, period_s: float, tolerance: float = 0.5) -> None:
        if period_s <= 0 or not 0 <= tolerance < 1:
            raise ValueError(f"need period_s > 0 and 0 <= tolerance < 1, got {period_s}, {tolerance}")
        self.period_s = period_s
        self.tolerance_s = tolerance * period_s
        self._next: float | None = None
        self.dropped = 0

    def admit(self, t: float) -> bool:
        """True when the frame arriving at `t` (monotonic seconds) starts a step; one before its slot is dropped."""
        nxt = self._next
        if nxt is not None and t < nxt - self.tolerance_s:
            self.dropped += 1
            return False
        # on the grid while frames keep up; after a gap (or the first frame) the grid restarts at this frame
        self._next = nxt + self.period_s if nxt is not None and nxt + self.period_s > t else t + self.period_s
        return True

    def reset(self) -> None:
        """Forget the grid: the next frame is admitted (after the agent was inactive)."""
        self._next = None


class InferenceWorker:
    """Runs `step(job)` on its own thread, one job at a time. `submit` never waits: while a job runs it refuses the
    new one and counts an overrun (skip if busy: a late step is worse than a skipped one)."""

    def __init__(self, step: Callable[[Any], None], name: str = "inference") -> None:
        self._step = step
        self._cv = threading.Condition()
        self._job: Any = None
        self._pending = False
        self._busy = False
        self._stopping = False
        self.overruns = 0
        self.completed = 0
        self.errors = 0
        self.last_error = ""
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def busy(self) -> bool:
        with self._cv:
            return self._busy

    def submit(self, job: Any) -> bool:
        """Hand `job` to the thread; False (counted in `overruns`) while a job runs or waits, or after stop()."""
        with self._cv:
            if self._stopping:
                return False
            if self._busy:
                self.overruns += 1
                return False
            self._job, self._pending, self._busy = job, True, True
            self._cv.notify_all()
            return True

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until no job runs; False if one still runs after `timeout_s`."""
        with self._cv:
            return self._cv.wait_for(lambda: not self._busy, timeout_s)

    def stop(self, timeout_s: float = 5.0) -> bool:
        """Refuse new jobs, let the running one finish and end the thread; False if it is still running."""
        with self._cv:
            self._stopping = True
            self._cv.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def _run(self) -> None:
        while True:
            with self._cv:
                self._cv.wait_for(lambda: self._pending or self._stopping)
                if not self._pending:  # stopping and nothing left to run
                    return
                job, self._job, self._pending = self._job, None, False
            try:
                self._step(job)
                self.completed += 1
            except Exception as exc:  # noqa: BLE001 - a failing step must not end the thread; the node reports it
                self.errors += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
            finally:
                with self._cv:
                    self._busy = False
                    self._cv.notify_all()
