"""First-contact settings of the safety filter: `effort_scale` (can only reduce the commanded efforts) and
`workspace_box` (hold while the pinch point is outside it). Pure logic, property-based where it matters."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gato_ros.safety import Mode, SafetyConfig, SafetyFilter
from gato_ros.safety.config import SafetyConfigError
from gato_ros.safety.filter import SafetyError
from test_safety import DT, EFFORT, SpecLimits, make
from test_safety_faults_logic import _op

ARM = np.array([True] * 7 + [False])
HOME_Q = np.array([-0.624, -1.3828, 0.5343, 1.691, -0.0992, 1.2896, 1.6755, 0.0])  # pinch (0.6, 0, 0.25) m
BOX = (0.3, -0.3, 0.0, 0.9, 0.3, 0.5)  # around the basket, robot base frame


@pytest.mark.parametrize("scale", [0.0, -0.3, 1.0001, 2.0, float("nan"), float("inf"), 0.0005])
def test_effort_scale_outside_range_is_refused(scale: float) -> None:
    with pytest.raises(SafetyConfigError, match="effort_scale"):
        SafetyConfig(effort_scale=scale)


@pytest.mark.parametrize("box", [(0.0,) * 5, (0.3, -0.3, 0.0, 0.2, 0.3, 0.5), (0.3, -0.3, 0.0, 0.9, 0.3, np.nan),
                                 (0.0, 0.0, 0.0, 0.0, 1.0, 1.0)])
def test_workspace_box_must_be_six_ordered_finite_values(box: tuple[float, ...]) -> None:
    with pytest.raises(SafetyConfigError, match="workspace_box"):
        SafetyConfig(workspace_box=box)


def _steady(scale: float, command: np.ndarray, ticks: int = 40) -> np.ndarray:
    """The output after `ticks` ticks of a constant command, the arm at rest away from every limit."""
    f = make(effort_scale=scale)
    out = None
    for k in range(ticks):
        t = k * DT
        f.joint_state(np.zeros(8), np.zeros(8), t)
        f.command(command, t)
        out, mode, _ = f.output(t)
        assert mode is Mode.ACTIVE
    assert out is not None
    return out


@settings(max_examples=60, deadline=None)
@given(scale=st.floats(0.001, 1.0), command=st.lists(st.floats(-100, 100), min_size=8, max_size=8))
def test_scaled_output_is_the_scaled_command(scale: float, command: list[float]) -> None:
    """Away from limits, once the rate limit has caught up, arm efforts are effort_scale x the (clamped) command;
    the gripper command passes unscaled."""
    cmd = np.clip(np.array(command), -EFFORT, EFFORT)
    out = _steady(scale, cmd, ticks=int(2 * 80 / (800 * DT)) + 2)
    np.testing.assert_allclose(out[ARM], scale * cmd[ARM], atol=1e-9)
    assert out[7] == pytest.approx(cmd[7])


@settings(max_examples=60, deadline=None)
@given(small=st.floats(0.001, 1.0), big=st.floats(0.001, 1.0),
       command=st.lists(st.floats(-100, 100), min_size=8, max_size=8))
def test_smaller_scale_never_commands_more(small: float, big: float, command: list[float]) -> None:
    small, big = min(small, big), max(small, big)
    cmd = np.array(command)
    a, b = _steady(small, cmd, 25), _steady(big, cmd, 25)
    assert np.all(np.abs(a[ARM]) <= np.abs(b[ARM]) + 1e-9)
    assert np.all(np.sign(a[ARM]) * np.sign(b[ARM]) >= 0)  # same direction, never reversed


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(_op, min_size=1, max_size=60), scale=st.floats(0.001, 1.0), safe_start=st.booleans())
def test_no_input_makes_the_scaled_output_larger(ops: list, scale: float, safe_start: bool) -> None:
    """Any sequence of commands (finite, NaN, 1e9, wrong lengths), joint states (plausible and not), e-stops,
    resets and gaps: every arm effort stays within effort_scale x its effort limit plus the damping bound (the
    only unscaled torque, which brakes), and within the effort limits."""
    damp = np.array([2.0, 2.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.0])  # small, so the scaled bound is tight
    cfg = SafetyConfig(safe_start=safe_start, effort_scale=scale, damping_torque_limit=tuple(damp))
    f = SafetyFilter(SpecLimits(), cfg)
    bound = np.maximum(scale * EFFORT, damp) + damp  # the ramp starts from a hold torque (<= damp)
    t = 0.0
    for kind, arg in ops:
        if kind == "cmd":
            f.command(arg, t)
        elif kind == "state":
            f.joint_state(arg[0], arg[1], t)
        elif kind == "estop":
            f.estop()
        elif kind == "reset":
            f.reset()
        elif kind == "gap":
            t += arg
            continue
        out, _, _ = f.output(t)
        assert np.all(np.isfinite(out)) and np.all(np.abs(out) <= EFFORT + 1e-9)
        assert np.all(np.abs(out[ARM]) <= bound[ARM] + 1e-9), (out, bound)
        t += DT


def _robot():
    from gato_ros.robot import RobotModel, default_urdf_path

    return RobotModel.from_file(default_urdf_path())


def test_workspace_box_holds_outside_and_resumes_inside() -> None:
    f = SafetyFilter(_robot(), SafetyConfig(safe_start=False, workspace_box=BOX))
    cmd = np.array([5.0, -5.0, 2.0, 2.0, 1.0, 1.0, 1.0, 0.5])
    f.joint_state(HOME_Q, np.zeros(8), 0.0)
    f.command(cmd, 0.0)
    assert f.output(0.0)[1] is Mode.ACTIVE
    outside = HOME_Q.copy()
    outside[0] += 0.8  # swing j0: the pinch point leaves the box sideways
    qd = np.zeros(8)
    qd[0] = 0.5
    f.joint_state(outside, qd, 0.01)
    f.command(cmd, 0.01)
    out, mode, _ = f.output(0.01)
    assert mode is Mode.HOLD and "workspace_box" in f.reason and f.counts["hold:workspace"] == 1
    np.testing.assert_allclose(out[:7], -np.array(SafetyConfig().hold_damping[:7]) * qd[:7])  # damping only
    assert out[7] == 0.5  # the gripper keeps its command
    f.joint_state(HOME_Q, np.zeros(8), 0.02)
    f.command(cmd, 0.02)
    assert f.output(0.02)[1] is Mode.ACTIVE  # not latched: back inside, commands pass again


def test_workspace_box_needs_kinematics() -> None:
    with pytest.raises(SafetyError, match="fk"):
        SafetyFilter(SpecLimits(), SafetyConfig(workspace_box=BOX))


@settings(max_examples=40, deadline=None)
@given(q=st.lists(st.floats(-2.2, 2.2), min_size=7, max_size=7))  # within every limit
def test_never_active_with_the_pinch_point_outside(q: list[float]) -> None:
    robot = _robot()
    f = SafetyFilter(robot, SafetyConfig(safe_start=False, workspace_box=BOX))
    q8 = np.append(q, 0.0)
    f.joint_state(q8, np.zeros(8), 0.0)
    f.command(np.full(8, 3.0), 0.0)
    _, mode, _ = f.output(0.0)
    p = robot.fk(np.array(q))[:3, 3]
    inside = bool(np.all(p >= BOX[:3]) and np.all(p <= BOX[3:]))
    assert (mode is Mode.ACTIVE) == inside


def test_safety_node_takes_the_first_contact_parameters(ros_env: dict[str, str]) -> None:
    """The node's ROS parameters reach the filter (as `--params-file` / `-p` would set them)."""
    import rclpy
    from rclpy.context import Context
    from rclpy.parameter import Parameter

    from gato_ros.nodes.safety import SafetyNode

    ctx = Context()
    rclpy.init(context=ctx)
    try:
        node = SafetyNode(context=ctx, parameter_overrides=[Parameter("effort_scale", value=0.3),
                                                            Parameter("workspace_box", value=list(BOX))])
        try:
            assert node.filter.config.effort_scale == 0.3 and node.filter.config.workspace_box == BOX
            assert node.filter.status()["effort_scale"] == 0.3
        finally:
            node.destroy_node()
    finally:
        rclpy.shutdown(context=ctx)
