"""SafetyFilter under faults (issue 14): safe start, implausible joint states, bounded damping, honest status,
and a property-based fuzz of random command / joint-state / e-stop / reset / time-gap sequences."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from gato_ros.safety import Mode, SafetyConfig, SafetyFilter
from test_safety import EFFORT, VEL, SpecLimits, make

ARM = np.array([True] * 7 + [False])
DAMP_LIMIT = np.array(SafetyConfig().damping_torque_limit)


def active(f: SafetyFilter, t: float = 0.0, cmd: np.ndarray | None = None) -> None:
    f.joint_state(np.zeros(8), np.zeros(8), t)
    f.command(np.full(8, 0.5) if cmd is None else cmd, t)
    assert f.output(t)[1] is Mode.ACTIVE


def test_safe_start_holds_until_reset() -> None:
    f = SafetyFilter(SpecLimits(), SafetyConfig())  # safe_start on by default
    assert not f.armed
    for t in np.arange(0, 0.2, 0.01):
        f.joint_state(np.zeros(8), np.zeros(8), t)
        f.command(np.full(8, 0.5), t)
        out, mode, _ = f.output(t)
        assert mode is Mode.HOLD and np.allclose(out[:7], 0.0)
    assert "safe start" in f.status()["reason"] and f.counts["hold:safe_start"] == 1
    assert "safe-start" in f.reset()
    f.command(np.full(8, 0.5), 0.2)
    assert f.output(0.2)[1] is Mode.ACTIVE and f.armed


@pytest.mark.parametrize("speed", [1e3, 1e9])
def test_implausible_velocity_is_a_fault_and_never_full_torque(speed: float) -> None:
    f = make()
    active(f)
    qd = np.zeros(8)
    qd[0], qd[4] = speed, speed
    assert f.joint_state(np.zeros(8), qd, 0.01) is False
    out, mode, _ = f.output(0.01)
    assert mode is Mode.FAULT and "implausible" not in out  # the mode carries it
    assert np.all(np.abs(out[:7]) <= DAMP_LIMIT[:7] + 1e-12)  # was -80 Nm on j0 and -9 Nm on j4
    assert f.counts["implausible_joint_state"] == 1 and "right_j0" in f.last_reason
    # while e-stopped too: still refused and counted (it used to pass silently)
    f.estop()
    assert f.joint_state(np.zeros(8), qd, 0.02) is False
    out, mode, _ = f.output(0.02)
    assert mode is Mode.ESTOP and f.counts["implausible_joint_state"] == 2
    assert np.all(np.abs(out[:7]) <= DAMP_LIMIT[:7])
    # latched: plausible states and commands do not resume; reset does
    active_again = [f.joint_state(np.zeros(8), np.zeros(8), t) for t in (0.03, 0.04)]
    assert all(active_again) and f.output(0.04)[1] is Mode.ESTOP
    f.reset()
    active(f, 0.05)


def test_plausible_but_fast_velocity_holds_with_bounded_damping() -> None:
    f = make()
    active(f)
    qd = np.zeros(8)
    qd[:7] = 1.9 * VEL[:7]  # under 2x the limit: believed, so damped, but no more than damping_torque_limit
    f.joint_state(np.zeros(8), qd, 0.01)
    out, mode, applied = f.output(0.01)
    assert mode is Mode.ACTIVE and "velocity_limit" in applied and "damping_clamp" in applied
    f.estop()
    out, mode, applied = f.output(0.02)
    assert mode is Mode.ESTOP and "damping_clamp" in applied
    np.testing.assert_allclose(np.abs(out[:7]), np.minimum(np.array(SafetyConfig().hold_damping[:7]) * qd[:7],
                                                            DAMP_LIMIT[:7]))


def test_implausible_position_and_non_latching_option() -> None:
    f = make(latch_faults=False, command_timeout_s=0.1)
    active(f)
    q = np.zeros(8)
    q[1] = 2.2736 + 0.6  # past the upper limit by more than the 0.5 rad margin
    assert f.joint_state(q, np.zeros(8), 0.01) is False
    assert f.output(0.01)[1] is Mode.FAULT
    q[1] = 2.2736 + 0.4  # beyond the limit but within the margin: believed (the limit damping acts)
    assert f.joint_state(q, np.zeros(8), 0.02) is True
    for t in np.arange(0.03, 0.3, 0.01):
        f.joint_state(np.zeros(8), np.zeros(8), t)
        f.command(np.full(8, 0.5), t)
        mode = f.output(t)[1]
    assert mode is Mode.ACTIVE  # latch_faults false: the fault expires


def test_status_reason_is_the_current_mode_not_an_old_hold() -> None:
    f = make()
    f.output(0.0)  # hold: no joint state
    active(f, 0.01)
    st_ = f.status()
    assert st_["mode"] == "active" and st_["reason"] == "passing commands"
    assert st_["armed"] is True


def test_interventions_are_counted_in_every_mode() -> None:
    f = make(add_gravity_compensation=False)
    f.estop()
    qd = np.zeros(8)
    qd[0] = 3.0  # plausible (under 2 x 1.74) but 20 Nm s/rad x 3 = 60 Nm > 40 Nm bound
    f.joint_state(np.zeros(8), qd, 0.0)
    out, mode, applied = f.output(0.0)
    assert mode is Mode.ESTOP and out[0] == -40.0 and f.counts["damping_clamp"] == 1
    assert f.status()["interventions"] >= 2


# ----------------------------------------------------------------------------- property-based fuzz

_any_float = st.floats(allow_nan=True, allow_infinity=True, width=64)
_effort = st.floats(-300, 300)
_command = st.one_of(
    st.lists(_effort, min_size=8, max_size=8),
    st.lists(_any_float, min_size=0, max_size=10),
    st.lists(st.sampled_from([1e9, -1e9, 1.8e308, -1.8e308, 0.0]), min_size=8, max_size=8),
)
_state = st.tuples(
    st.lists(st.one_of(st.floats(-6, 6), _any_float), min_size=8, max_size=8),
    st.lists(st.one_of(st.floats(-10, 10), st.sampled_from([1e3, -1e9, 1e9])), min_size=8, max_size=8),
)
_good_state = st.tuples(
    st.lists(st.floats(-1.5, 1.5), min_size=7, max_size=7).map(lambda q: q + [0.4]),
    st.lists(st.floats(-3, 3), min_size=8, max_size=8),
)
_good_command = st.lists(st.floats(-100, 100), min_size=8, max_size=8)
_op = st.one_of(  # plausible inputs more often than not, so that every mode is reached
    st.tuples(st.just("cmd"), _good_command),
    st.tuples(st.just("cmd"), _good_command),
    st.tuples(st.just("cmd"), _command),
    st.tuples(st.just("state"), _good_state),
    st.tuples(st.just("state"), _good_state),
    st.tuples(st.just("state"), _state),
    st.tuples(st.just("reset"), st.none()),
    st.tuples(st.just("estop"), st.none()),
    st.tuples(st.just("reset"), st.none()),
    st.tuples(st.just("gap"), st.floats(0.0, 0.6)),
    st.tuples(st.just("gap"), st.floats(0.0, 0.05)),
    st.tuples(st.just("tick"), st.none()),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(_op, min_size=1, max_size=60), safe_start=st.booleans(), hold_invalid=st.booleans(),
       latch=st.booleans())
def test_fuzz_invariants(ops: list, safe_start: bool, hold_invalid: bool, latch: bool) -> None:
    """Any sequence of inputs: the output is finite and within the effort limits, holds arm torques within the
    damping bound, is never ACTIVE on a command older than the timeout or a stale state, and an e-stop holds
    until reset."""
    cfg = SafetyConfig(safe_start=safe_start, hold_on_invalid_command=hold_invalid, latch_faults=latch)
    f = SafetyFilter(SpecLimits(), cfg)
    t = 0.0
    last_cmd_t = -np.inf
    last_state_t = -np.inf
    estopped = False
    armed = not safe_start
    for kind, arg in ops:
        if kind == "cmd":
            if f.command(arg, t):
                last_cmd_t = t
            elif hold_invalid:
                last_cmd_t = -np.inf  # a refused command holds at once
        elif kind == "state":
            if f.joint_state(arg[0], arg[1], t):
                last_state_t = t
        elif kind == "estop":
            f.estop()
            estopped = True
        elif kind == "reset":
            f.reset()
            estopped, armed, last_cmd_t = False, True, -np.inf
        elif kind == "gap":
            t += arg
            continue
        out, mode, _ = f.output(t)
        event(f"mode {mode.value}")
        assert out.shape == (8,) and np.all(np.isfinite(out))
        assert np.all(np.abs(out) <= EFFORT + 1e-9)
        if estopped:
            assert mode is Mode.ESTOP
        if mode is Mode.ACTIVE:
            assert armed and not estopped
            assert t - last_cmd_t <= cfg.command_timeout_s + 1e-9
            assert t - last_state_t <= cfg.state_timeout_s + 1e-9
        else:
            assert np.all(np.abs(out[ARM]) <= DAMP_LIMIT[ARM] + 1e-9)  # holding never pushes harder
        t += 0.01


def test_filter_keeps_its_own_copy_of_inputs() -> None:
    """The node passes the merger's arrays, which the next (implausible) message overwrites in place."""
    f = make()
    q, qd, cmd = np.zeros(8), np.zeros(8), np.full(8, 0.5)
    f.joint_state(q, qd, 0.0)
    f.command(cmd, 0.0)
    f.output(0.0)
    qd[0] = 1e3  # the merger took an implausible message; the filter refuses it but must not see it
    cmd[:] = np.nan
    assert f.joint_state(q, qd, 0.01) is False
    out, mode, _ = f.output(0.01)
    assert mode is Mode.FAULT and np.allclose(out[:7], 0.0)
