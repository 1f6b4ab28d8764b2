"""Wake on command (issue 19): TickPacer's bounds, and the filter's rate limit under ticks at any times (pure logic).

The DDS side (a command publishes at once; a 2 kHz flood at most doubles the output rate) is in
test/test_ros_safety_integration.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gato_ros.safety import Mode, SafetyConfig, SafetyFilter
from gato_ros.safety.pacing import Tick, TickPacer
from test_safety import SpecLimits

P = 0.01


def simulate(pacer: TickPacer, arrivals: list[float], t_end: float, estops: tuple[float, ...] = (),
             step: float = 1e-4) -> list[tuple[float, Tick]]:
    """Look every `step` s (the output thread's loop) with the commands and e-stops that arrived since the last look;
    an armed wake sees an arrival at once, a disarmed one never (the command is taken at a later tick)."""
    ticks: list[tuple[float, Tick]] = []
    pending = sorted(arrivals)
    pending_estops = sorted(estops)
    i = j = 0
    for now in np.arange(0.0, t_end, step):
        command = False
        while i < len(pending) and pending[i] <= now:
            command = command or pacer.armed
            i += 1
        estop = False
        while j < len(pending_estops) and pending_estops[j] <= now:
            estop, j = True, j + 1
        kind = pacer.tick(float(now), command=command, estop=estop)
        if kind is not None:
            ticks.append((float(now), kind))
    return ticks


def test_a_command_ticks_at_once_and_the_grid_follows_it() -> None:
    pacer = TickPacer(P, wake_on_command=True, t0=0.0)
    ticks = simulate(pacer, [0.0234], 0.06)
    times = [round(t, 4) for t, _ in ticks]
    kinds = [k for _, k in ticks]
    assert times[:4] == [0.0, 0.01, 0.02, 0.0234]  # woken at the arrival, not at 0.03
    assert kinds[3] is Tick.COMMAND and pacer.woken_ticks == 1
    assert times[4:] == [0.0334, 0.0434, 0.0534]  # the grid re-phased: one period after the woken tick


def test_fixed_grid_without_wake() -> None:
    pacer = TickPacer(P, wake_on_command=False, t0=0.0)
    ticks = simulate(pacer, [0.0234, 0.031, 0.0312], 0.06)
    assert [round(t, 4) for t, _ in ticks] == [0.0, 0.01, 0.02, 0.03, 0.04, 0.05]
    assert all(k is Tick.REGULAR for _, k in ticks) and pacer.woken_ticks == 0 and not pacer.armed


@given(st.lists(st.floats(0.0, 1.0), max_size=400), st.lists(st.floats(0.0, 1.0), max_size=5))
@settings(max_examples=60, deadline=None)
def test_any_arrivals_at_most_two_ticks_per_period_and_no_gap_over_a_period(arrivals: list[float],
                                                                           estops: list[float]) -> None:
    pacer = TickPacer(P, wake_on_command=True, t0=0.0)
    ticks = simulate(pacer, arrivals, 1.0, tuple(estops), step=2e-4)
    times = np.array([t for t, k in ticks if k is not Tick.ESTOP])
    assert np.all(np.diff(times) <= P + 2e-4 + 1e-9)  # the regular ticks never starve
    woken = [t for t, k in ticks if k is Tick.COMMAND]
    assert np.all(np.diff(woken) >= P - 1e-9)  # at most one woken tick per period
    for t in times:  # any window of one period holds at most two (non e-stop) ticks
        assert np.count_nonzero((times >= t) & (times < t + P - 1e-9)) <= 2
    assert len([t for t, k in ticks if k is Tick.ESTOP]) <= len(estops)


def test_flood_at_most_doubles_the_rate_and_estop_still_ticks() -> None:
    pacer = TickPacer(P, wake_on_command=True, t0=0.0)
    flood = list(np.arange(0.0, 1.0, 0.0005))  # 2 kHz
    ticks = simulate(pacer, flood, 1.0, estops=(0.5003,))
    n = len([k for _, k in ticks if k is not Tick.ESTOP])
    assert 100 <= n <= 200 and pacer.woken_ticks <= 100
    assert any(0.5003 <= t < 0.5003 + 2e-4 for t, _ in ticks)  # the e-stop ticked at once (its own or a shared tick)


def test_late_grid_restarts_and_is_counted() -> None:
    pacer = TickPacer(P, wake_on_command=True, t0=0.0)
    assert pacer.tick(0.0) is Tick.REGULAR
    assert pacer.tick(0.055) is Tick.REGULAR and pacer.late_ticks == 1 and pacer.next_t == pytest.approx(0.065)
    with pytest.raises(ValueError):
        TickPacer(0.0, True, 0.0)


@given(st.lists(st.tuples(st.floats(0.0, 0.03), st.sampled_from([-1.0, 1.0]), st.booleans()), min_size=2,
                max_size=120))
@settings(max_examples=80, deadline=None)
def test_rate_limit_holds_per_second_whatever_the_tick_times(steps: list[tuple[float, float, bool]]) -> None:
    """Ticks at any times (a woken tick 0 s after a regular one, gaps up to 3 periods), commands flipping between
    the effort limits: an ACTIVE output never changes faster than max_effort_rate x the time since the previous
    output, so more frequent ticks cannot output more."""
    cfg = SafetyConfig(safe_start=False, command_timeout_s=10.0, state_timeout_s=10.0)
    f = SafetyFilter(SpecLimits(), cfg)
    limits = SpecLimits().effort_limits
    t, prev = 0.0, None
    for gap, sign, new_command in steps:
        t += gap
        f.joint_state(np.zeros(8), np.zeros(8), t)
        if new_command or prev is None:
            f.command(sign * limits, t)
        out, mode, _ = f.output(t)
        assert mode is Mode.ACTIVE
        if prev is not None:
            arm = slice(0, 7)
            assert np.all(np.abs(out[arm] - prev[1][arm]) <= cfg.max_effort_rate * (t - prev[0]) + 1e-9)
        prev = (t, out)
