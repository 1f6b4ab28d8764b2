"""The terminal status line of `gato-ros run`, `record` and `eval`: one line refreshed in place (`rich`) with the
episode, elapsed time, stage, safety mode, agent command rate and p99 step latency, read from /diagnostics.

`status_from` and `format_status` are pure (tested); `StatusLine` draws with rich only on a terminal.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any, Mapping

#: Safety modes and their colours on the status line.
MODE_STYLE = {"active": "bold green", "hold": "bold yellow", "estop": "bold red", "fault": "bold red"}
MISSING = "-"


def _float(values: Mapping[str, str], key: str) -> float | None:
    try:
        return float(values[key])
    except (KeyError, ValueError):
        return None


@dataclass(frozen=True)
class Status:
    """What the line shows; None / "" = not known (that node is absent or has not reported)."""

    episode: int | None = None
    elapsed_s: float | None = None
    stage: str = ""
    safety_mode: str = ""
    interventions: int | None = None
    agent_rate_hz: float | None = None
    p99_ms: float | None = None
    recording: str = ""


@dataclass
class CountRate:
    """A rate from successive reports of a growing counter (the agent's `published` commands), timed by when each
    report arrived; a counter that goes back (a restarted node) starts over."""

    _last: tuple[float, float] | None = None
    rate: float | None = None

    def update(self, t: float, count: float | None) -> float | None:
        """Feed the counter as reported at time `t` (the same report may be fed again); returns the rate."""
        if count is None or (self._last is not None and t <= self._last[0]):
            return self.rate
        if self._last is not None:
            self.rate = (count - self._last[1]) / (t - self._last[0]) if count >= self._last[1] else None
        self._last = (t, count)
        return self.rate


def status_from(latest: Mapping[str, Mapping[str, str]], agent_rate_hz: float | None = None,
                elapsed_s: float | None = None) -> Status:
    """A Status from the newest diagnostics values per node ('sim', 'safety', 'agent', 'recorder'); the sim's
    episode time wins over `elapsed_s` (the caller's wall time)."""
    sim, safety, agent, recorder = (latest.get(n, {}) for n in ("sim", "safety", "agent", "recorder"))
    episode = _float(sim, "episode")
    interventions = _float(safety, "interventions")
    sim_time = _float(sim, "episode_time_s")
    recording = ""
    if recorder.get("recording", "").lower() == "true":
        recording = recorder.get("episode_dir", "").rstrip("/").rsplit("/", 1)[-1] or "on"
    return Status(episode=None if episode is None else int(episode),
                  elapsed_s=sim_time if sim_time is not None else elapsed_s, stage=sim.get("stage", ""),
                  safety_mode=safety.get("mode", ""),
                  interventions=None if interventions is None else int(interventions),
                  agent_rate_hz=agent_rate_hz if agent else None, p99_ms=_float(agent, "tick_p99_ms"),
                  recording=recording)


def format_status(s: Status) -> list[tuple[str, str]]:
    """The line as (text, rich style) pieces; `"".join(text)` is the plain line."""
    def num(value: float | None, fmt: str) -> str:
        return MISSING if value is None else format(value, fmt)

    mode = s.safety_mode.upper() or MISSING
    if s.interventions is not None:
        mode += f", {s.interventions} interventions"
    pieces = [("episode ", "dim"), (MISSING if s.episode is None else str(s.episode), "bold"),
              (" · ", "dim"), (num(s.elapsed_s, ".1f") + " s", ""),
              (" · stage ", "dim"), (s.stage or MISSING, "bold cyan"),
              (" · safety ", "dim"), (mode, MODE_STYLE.get(s.safety_mode, "")),
              (" · agent ", "dim"), (num(s.agent_rate_hz, ".1f") + " Hz", ""),
              (", p99 ", "dim"), (num(s.p99_ms, ".1f") + " ms", "")]
    if s.recording:
        pieces += [(" · rec ", "dim"), (s.recording, "bold red")]
    return pieces


def plain(s: Status) -> str:
    return "".join(text for text, _ in format_status(s))


class StatusLine:
    """Context manager: one line at the bottom of the terminal, redrawn by `update`; prints go above it.

    Disabled (a no-op) when `enabled` is False, e.g. stdout is not a terminal (logs, tests, CI)."""

    def __init__(self, enabled: bool, period_s: float = 0.25, console: Any = None) -> None:
        """`console`: a rich Console (default: the terminal)."""
        self.enabled, self.period_s, self.console = enabled, period_s, console
        self._live: Any = None
        self._next = 0.0

    def __enter__(self) -> "StatusLine":
        if self.enabled:
            try:
                from rich.console import Console
                from rich.live import Live
            except ImportError:  # the ROS route may lack it: say so once, run without the line
                print("status line off: `pip install rich==15.0.0` to get it", file=sys.stderr)
                self.enabled = False
                return self

            self._live = Live(console=self.console or Console(), auto_refresh=False, transient=True,
                              redirect_stdout=True, redirect_stderr=True)
            self._live.start()
        return self

    def update(self, status: Status) -> None:
        """Redraw with `status` (at most once per `period_s`; callers may call it from a fast loop)."""
        now = time.monotonic()
        if self._live is not None and now >= self._next:
            from rich.text import Text

            self._next = now + self.period_s
            self._live.update(Text.assemble(*format_status(status)), refresh=True)

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None


class GraphStatus:
    """The Status of a running graph from a `latest(node) -> values` source (GraphMonitor.latest: newest
    /diagnostics values per node, with `_age_s`), polled by the status line."""

    NODES = ("sim", "safety", "agent", "recorder")

    def __init__(self, latest: Any, t0: float) -> None:
        self.latest, self.t0 = latest, t0
        self.agent_rate = CountRate()

    def poll(self, now: float) -> Status:
        latest = {n: self.latest(n) for n in self.NODES}
        agent = latest["agent"]
        arrived = now - (_float(agent, "_age_s") or 0.0)
        rate = self.agent_rate.update(arrived, _float(agent, "published"))
        return status_from(latest, rate, now - self.t0)
