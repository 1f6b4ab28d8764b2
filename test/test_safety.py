"""Unit tests of the pure safety logic: SafetyFilter, hold torques, JointStateMerger, SafetyConfig."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gato_ros.interfaces import ARM_JOINTS, JOINT_NAMES
from gato_ros.safety import Mode, SafetyConfig, SafetyFilter
from gato_ros.safety.config import SafetyConfigError
from gato_ros.safety.filter import SafetyError
from gato_ros.safety.holding import hold_torques
from gato_ros.safety.joints import JointStateError, JointStateMerger

EFFORT = np.array([80, 80, 40, 40, 9, 9, 9, 1.0])
VEL = np.array([1.74, 1.328, 1.957, 1.957, 3.485, 3.485, 4.545, 2.0])
POS = np.array([[-3.0503, 3.0503], [-3.8095, 2.2736], [-3.0426, 3.0426], [-3.0439, 3.0439],
                [-2.9761, 2.9761], [-2.9761, 2.9761], [-4.7124, 4.7124], [0.0, 0.8]])
DT = 0.01


@dataclasses.dataclass
class SpecLimits:
    """The Sawyer's published limits (SPEC.md) in the RobotModel shape, with a gravity model g_i = i + sin(q_i)."""

    joint_names: tuple[str, ...] = JOINT_NAMES
    arm_joint_names: tuple[str, ...] = ARM_JOINTS
    effort_limits: np.ndarray = dataclasses.field(default_factory=lambda: EFFORT.copy())
    position_limits: np.ndarray = dataclasses.field(default_factory=lambda: POS.copy())
    velocity_limits: np.ndarray = dataclasses.field(default_factory=lambda: VEL.copy())

    def gravity_torques(self, q7: np.ndarray) -> np.ndarray:
        return np.arange(7.0) + np.sin(q7)


def make(**overrides: object) -> SafetyFilter:
    """A filter without the safe-start hold (tested on its own), unless `safe_start=True` is passed."""
    return SafetyFilter(SpecLimits(), SafetyConfig(**{"safe_start": False, **overrides}))


def run(f: SafetyFilter, t0: float, t1: float, q: np.ndarray | None = None, qd: np.ndarray | None = None,
        command: np.ndarray | None = None) -> list[tuple[np.ndarray, Mode, tuple[str, ...]]]:
    """Tick the filter every 10 ms from t0 to t1 with a fresh joint state (and command) each tick."""
    outs = []
    for t in np.arange(t0, t1, DT):
        f.joint_state(np.zeros(8) if q is None else q, np.zeros(8) if qd is None else qd, t)
        if command is not None:
            f.command(command, t)
        outs.append(f.output(t))
    return outs


def test_starts_in_hold_and_goes_active_with_state_and_command() -> None:
    f = make()
    out, mode, _ = f.output(0.0)
    assert mode is Mode.HOLD and np.all(out == 0)
    f.joint_state(np.zeros(8), np.zeros(8), 0.0)
    assert f.output(0.0)[1] is Mode.HOLD  # no command yet
    cmd = np.array([1, -1, 0.5, 0, 0, 0, 0.1, 0.5])
    f.command(cmd, 0.0)
    out, mode, applied = f.output(0.01)
    assert mode is Mode.ACTIVE and applied == ()
    np.testing.assert_allclose(out, cmd)
    assert f.counts["hold:no_joint_state"] == 1 and f.counts["hold:no_command"] == 1


def test_clamps_to_effort_limits() -> None:
    f = make(max_effort_rate=1e6)
    big = np.array([500, -500, 100, -100, 50, -50, 20, 3.0])
    out = run(f, 0, 0.05, command=big)[-1][0]
    np.testing.assert_allclose(out, np.sign(big) * EFFORT)
    assert f.counts["effort_clamp"] == 5


@pytest.mark.parametrize("bad", [
    [np.nan] + [0.0] * 7, [0.0] * 7 + [np.inf], [-np.inf] * 8,
])
def test_rejects_nonfinite_and_holds_at_once(bad: list[float]) -> None:
    f = make()
    good = np.full(8, 0.5)
    run(f, 0, 0.1, command=good)
    assert f.command(bad, 0.1) is False
    out, mode, _ = f.output(0.11)
    assert mode is Mode.HOLD and np.all(np.isfinite(out)) and np.allclose(out[:7], 0.0) and out[7] == 0.5
    assert f.counts["nonfinite_command"] == 1 and f.counts["hold:invalid_command"] == 1
    assert "invalid_command" in f.status()["reason"] or "refused" in f.status()["reason"]
    f.command(good, 0.12)  # the next valid command resumes
    assert f.output(0.13)[1] is Mode.ACTIVE


@pytest.mark.parametrize("bad", [
    [np.nan] + [0.0] * 7, [0.0] * 7 + [np.inf], [-np.inf] * 8,
])
def test_rejects_nonfinite_and_keeps_previous_when_configured(bad: list[float]) -> None:
    f = make(hold_on_invalid_command=False)
    good = np.full(8, 0.5)
    run(f, 0, 0.1, command=good)
    assert f.command(bad, 0.1) is False
    out, mode, _ = f.output(0.11)
    assert mode is Mode.ACTIVE and np.all(np.isfinite(out))
    np.testing.assert_allclose(out, good)
    assert f.counts["nonfinite_command"] == 1 and "NaN/inf" in f.last_reason


@pytest.mark.parametrize("n", [0, 1, 7, 9, 16])
def test_rejects_wrong_length(n: int) -> None:
    f = make(hold_on_invalid_command=False)
    run(f, 0, 0.05, command=np.full(8, 0.25))
    assert f.command(np.ones(n), 0.05) is False
    np.testing.assert_allclose(f.output(0.06)[0], 0.25)
    g = make()
    run(g, 0, 0.05, command=np.full(8, 0.25))
    assert g.command(np.ones(n), 0.05) is False
    assert g.output(0.06)[1] is Mode.HOLD
    assert f.counts["wrong_length"] == 1 and f"{n} values, expected 8" in f.last_reason


def test_rejects_non_numeric() -> None:
    f = make()
    assert f.command(["a"] * 8, 0.0) is False
    assert f.counts["malformed_command"] == 1


def test_rate_limit_bounds_each_step() -> None:
    f = make(max_effort_rate=800.0)
    target = EFFORT.copy()
    outs = run(f, 0, 0.2, command=target)
    efforts = np.array([o[0] for o in outs])
    steps = np.abs(np.diff(np.vstack([np.zeros(8), efforts]), axis=0))
    assert steps.max() <= 800.0 * DT + 1e-9
    np.testing.assert_allclose(efforts[-1], target)  # 80 Nm reached in 0.1 s
    assert np.argmax(efforts[:, 0] >= 80.0) == 9
    assert "rate_limit" in outs[0][2] and f.counts["rate_limit"] == 9


def test_position_limit_damping_only_towards_the_limit() -> None:
    f = make(max_effort_rate=1e6)
    hi = POS[:, 1]
    q = np.zeros(8)
    q[1] = hi[1] - 0.05  # 2/3 into the 0.15 rad margin
    toward = np.zeros(8)
    toward[1] = 0.5
    out, _, applied = run(f, 0, 0.03, q=q, qd=toward, command=np.zeros(8))[-1]
    assert "position_limit" in applied
    assert out[1] == pytest.approx(-40.0 * (1 - 0.05 / 0.15) * 0.5)
    f2 = make(max_effort_rate=1e6)
    out, _, applied = run(f2, 0, 0.03, q=q, qd=-toward, command=np.zeros(8))[-1]
    assert "position_limit" not in applied and out[1] == 0.0


def test_past_position_limit_no_outward_push() -> None:
    f = make(max_effort_rate=1e6)
    q = np.zeros(8)
    q[3] = POS[3, 0] - 0.01
    cmd = np.zeros(8)
    cmd[3] = -20.0  # further out
    cmd[4] = 2.0
    out = run(f, 0, 0.03, q=q, command=cmd)[-1][0]
    assert out[3] == 0.0 and out[4] == 2.0
    cmd[3] = 20.0  # back inside: allowed
    assert run(f, 0.03, 0.06, q=q, command=cmd)[-1][0][3] == 20.0


def test_velocity_limit_brakes() -> None:
    f = make(max_effort_rate=1e6)
    qd = np.zeros(8)
    qd[4] = 0.95 * VEL[4]  # above 0.9 * limit
    cmd = np.zeros(8)
    cmd[4] = 5.0  # pushing along the motion
    out, _, applied = run(f, 0, 0.03, qd=qd, command=cmd)[-1]
    assert "velocity_limit" in applied
    assert out[4] == pytest.approx(max(-4.5, -4.0 * qd[4]))  # damping bounded by damping_torque_limit
    assert "damping_clamp" in applied
    qd[4] = 0.5 * VEL[4]
    out, _, applied = run(f, 0.03, 0.06, qd=qd, command=cmd)[-1]
    assert "velocity_limit" not in applied and out[4] == 5.0


def test_command_timeout_holds_with_damping_and_gripper_keeps_last() -> None:
    f = make(command_timeout_s=0.2)
    cmd = np.array([10, 10, 5, 5, 1, 1, 1, 0.7])
    run(f, 0, 0.1, command=cmd)
    qd = np.array([0.1, -0.2, 0.3, 0, 0, 0, 0.5, 0.3])
    outs = run(f, 0.1, 0.35, qd=qd)  # no more commands
    modes = [o[1] for o in outs]
    first_hold = modes.index(Mode.HOLD)
    t_hold = 0.1 + first_hold * DT
    assert 0.2 < t_hold - 0.09 <= 0.2 + DT + 1e-9  # last command at t=0.09
    out = outs[-1][0]
    np.testing.assert_allclose(out[:7], -np.array(SafetyConfig().hold_damping[:7]) * qd[:7])
    assert out[7] == 0.7
    assert f.counts["hold:command_timeout"] == 1
    # a fresh command resumes, rate-limited from the hold torques
    f.command(cmd, 0.35)
    f.joint_state(np.zeros(8), qd, 0.35)
    out, mode, _ = f.output(0.35)
    assert mode is Mode.ACTIVE
    assert np.all(np.abs(out - outs[-1][0]) <= 800 * DT + 1e-9)


def test_state_timeout_holds_without_stale_velocity() -> None:
    f = make(state_timeout_s=0.1)
    run(f, 0, 0.05, qd=np.full(8, 0.2), command=np.full(8, 0.5))
    for t in np.arange(0.05, 0.3, DT):
        f.command(np.full(8, 0.5), t)  # commands keep coming
        out, mode, _ = f.output(t)
    assert mode is Mode.HOLD and "joint state" in f.last_reason
    np.testing.assert_allclose(out[:7], 0.0)  # stale velocities are not trusted: the arm's gravcomp holds
    assert out[7] == 0.5
    assert f.counts["hold:state_timeout"] == 1


def test_estop_latches_until_reset_and_needs_fresh_command() -> None:
    f = make()
    cmd = np.full(8, 0.5)
    run(f, 0, 0.05, command=cmd)
    f.estop()
    outs = run(f, 0.05, 0.2, command=cmd)
    assert all(o[1] is Mode.ESTOP for o in outs)
    assert f.counts["estop"] == 1 and f.counts["estop:estop"] == 1
    assert "cleared e-stop" in f.reset()
    assert f.output(0.2)[1] is Mode.HOLD  # the old command is gone
    out, mode, _ = run(f, 0.21, 0.25, command=cmd)[-1]
    assert mode is Mode.ACTIVE
    assert f.reset() == "nothing latched"


def test_fault_latches_or_expires() -> None:
    f = make()
    run(f, 0, 0.05, command=np.full(8, 0.5))
    f.fault("boom", 0.05)
    assert run(f, 0.05, 1.0, command=np.full(8, 0.5))[-1][1] is Mode.FAULT
    f.reset()
    assert run(f, 1.0, 1.05, command=np.full(8, 0.5))[-1][1] is Mode.ACTIVE
    g = make(latch_faults=False, command_timeout_s=0.1)
    run(g, 0, 0.05, command=np.full(8, 0.5))
    g.fault("transient", 0.05)
    modes = [o[1] for o in run(g, 0.05, 0.3, command=np.full(8, 0.5))]
    assert modes[0] is Mode.FAULT and modes[-1] is Mode.ACTIVE


def test_gravity_compensation_added_in_every_mode_with_permuted_joint_order() -> None:
    names = ("gripper_joint",) + tuple(reversed(ARM_JOINTS))
    perm = [JOINT_NAMES.index(n) for n in names]
    hold = tuple(float(i + 1) for i in range(8))
    f = make(joint_names=names, add_gravity_compensation=True, hold_damping=hold, max_effort_rate=1e6,
             damping_torque_limit=(100.0,) * 8)
    q_robot = np.linspace(-0.5, 0.5, 8)
    q = q_robot[perm]  # the same physical state in our order
    qd = np.full(8, 0.1)
    g_robot = SpecLimits().gravity_torques(q_robot[:7])
    g_ours = g_robot[[ARM_JOINTS.index(n) for n in names[1:]]]
    f.joint_state(q, qd, 0.0)
    out, mode, _ = f.output(0.0)
    assert mode is Mode.HOLD
    np.testing.assert_allclose(out[1:], g_ours - np.array(hold[1:]) * 0.1)
    cmd = np.zeros(8)
    cmd[1] = 1.0  # right_j6
    f.command(cmd, 0.0)
    out, mode, _ = f.output(0.01)
    assert mode is Mode.ACTIVE
    np.testing.assert_allclose(out[1:], g_ours + cmd[1:])


def test_hold_torques_function() -> None:
    arm = np.array([True] * 7 + [False])
    out = hold_torques(np.ones(8), np.full(8, 2.0), arm, 0.3, gravity=np.arange(7.0))
    np.testing.assert_allclose(out, list(np.arange(7.0) - 2.0) + [0.3])
    np.testing.assert_allclose(hold_torques(None, np.full(8, 2.0), arm, -1.0), [0] * 7 + [-1.0])


@settings(max_examples=200, deadline=None)
@given(
    cmd=st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), min_size=0, max_size=10),
    q=st.lists(st.floats(-10, 10), min_size=8, max_size=8),
    qd=st.lists(st.floats(-50, 50), min_size=8, max_size=8),
    gravity=st.booleans(),
)
def test_output_always_finite_and_within_limits(cmd: list[float], q: list[float], qd: list[float],
                                                 gravity: bool) -> None:
    f = make(add_gravity_compensation=gravity)
    f.joint_state(q, qd, 0.0)
    f.command(cmd, 0.0)
    for t in (0.0, 0.01, 0.5):
        out, _, _ = f.output(t)
        assert out.shape == (8,) and np.all(np.isfinite(out))
        assert np.all(np.abs(out) <= EFFORT + 1e-12)


def test_robot_without_configured_joint_is_an_error() -> None:
    with pytest.raises(SafetyError, match="not in the robot model"):
        make(joint_names=JOINT_NAMES[:7] + ("elbow",))
    with pytest.raises(SafetyError, match="every arm joint"):
        make(joint_names=JOINT_NAMES[1:], limit_damping=(1.0,) * 7, hold_damping=(1.0,) * 7,
             damping_torque_limit=(1.0,) * 7)


@pytest.mark.parametrize("bad", [
    {"publish_rate_hz": 0.0}, {"command_timeout_s": -1.0}, {"max_effort_rate": float("nan")},
    {"velocity_limit_scale": 1.5}, {"hold_damping": (1.0,) * 3}, {"limit_damping": (-1.0,) * 8},
    {"joint_names": ("a", "a")},
])
def test_config_validation(bad: dict[str, object]) -> None:
    with pytest.raises(SafetyConfigError):
        SafetyConfig(**bad)


def test_joint_state_merger_partial_unknown_and_malformed() -> None:
    m = JointStateMerger(JOINT_NAMES)
    r = m.update(list(reversed(ARM_JOINTS)) + ["head_pan"], list(range(8)), [0.0] * 8, 1.0)
    assert r.unknown == ("head_pan",) and not r.complete and m.missing() == ("gripper_joint",)
    np.testing.assert_allclose(m.q[:7], list(reversed(range(7))))
    r = m.update(["gripper_joint"], [0.4], [0.1], 1.5)
    assert r.complete and m.oldest() == 1.0 and m.q[7] == 0.4
    assert m.stale(1.3, 0.25) == ARM_JOINTS
    with pytest.raises(JointStateError, match="velocities"):
        m.update(["right_j0"], [0.0], [], 2.0)
    with pytest.raises(JointStateError, match="NaN"):
        m.update(["right_j0"], [float("nan")], [0.0], 2.0)
    assert m.q[0] == 6.0  # nothing taken from the bad messages


def test_package_config_file_matches_dataclass_defaults() -> None:
    from gato_ros.nodes.common import config_from_params_file
    from gato_ros.paths import config_dir

    assert config_from_params_file(SafetyConfig, config_dir() / "safety.yaml", "safety") == SafetyConfig()


def test_filter_with_package_urdf() -> None:
    from gato_ros.robot import RobotModel, default_urdf_path

    robot = RobotModel.from_file(default_urdf_path())
    f = SafetyFilter(robot, SafetyConfig(add_gravity_compensation=True))
    np.testing.assert_allclose(f.limits.effort, EFFORT)
    np.testing.assert_allclose(f.limits.position[:7], POS[:7], atol=1e-3)
    np.testing.assert_allclose(f.limits.velocity[:7], VEL[:7], atol=1e-3)
    f.joint_state(np.zeros(8), np.zeros(8), 0.0)
    out, mode, _ = f.output(0.0)
    assert mode is Mode.HOLD and np.all(np.isfinite(out))
    np.testing.assert_allclose(out[:7], np.clip(robot.gravity_torques(np.zeros(7)), -EFFORT[:7], EFFORT[:7]))
