"""Teleop: key mapping (no tty), control law, and a scripted twist sequence driving the MuJoCo arm."""

import numpy as np
import pytest

from gato_ros.teleop import TeleopConfig, TeleopController, TeleopError, TwistWatchdog, gripper_effort
from gato_ros.teleop.control import clamp_twist
from gato_ros.teleop.keyboard import KeyboardConfig, KeyTwistState, split_keys


def test_keys_map_to_base_frame_twists_that_expire():
    keys = KeyTwistState(KeyboardConfig(linear_speed=0.1, angular_speed=0.5, hold_s=0.6))
    assert keys.press("w", 0.0) == "motion" and keys.press("R", 0.1) == "motion"
    assert np.allclose(keys.twist(0.2), [0.1, 0, 0.1, 0, 0, 0])
    assert np.allclose(keys.twist(0.65), [0, 0, 0.1, 0, 0, 0])  # w expired, r (pressed later) still on
    assert np.allclose(keys.twist(1.0), 0)  # released: everything stops
    keys.press("d", 2.0)
    keys.press("q", 2.0)
    assert np.allclose(keys.twist(2.1), [0, -0.1, 0, 0, 0, 0.5])
    keys.press("s", 2.2)  # the opposite key reverses the axis at once
    assert keys.twist(2.3)[0] == -0.1
    keys.stop()
    assert np.allclose(keys.twist(2.3), 0)
    keys.press("+", 3.0)
    keys.press("up", 3.0)
    assert np.isclose(keys.twist(3.1)[0], 0.125)
    assert keys.press("z", 3.0) is None


def test_gripper_keys():
    keys = KeyTwistState()
    assert keys.gripper == 0.0
    assert keys.press(" ", 0) == "gripper" and keys.gripper == 1.0
    keys.press(" ", 0)
    assert keys.gripper == 0.0
    keys.press("c", 0)
    assert keys.gripper == 1.0
    keys.press("o", 0)
    assert keys.gripper == 0.0


def test_split_keys_handles_arrows_and_enter():
    assert split_keys("w\x1b[Aa\n\x1b") == ["w", "up", "a", "enter", "esc"]


def test_gripper_effort_clamp_watchdog_and_config_errors():
    assert gripper_effort(0.0) == -1.0 and gripper_effort(1.0) == 1.0 and gripper_effort(0.5) == 0.0
    assert gripper_effort(7.0) == 1.0
    with pytest.raises(TeleopError):
        gripper_effort(float("nan"))
    v = clamp_twist([3, 4, 0, 0, 0, 2], 0.5, 1.0)
    assert np.allclose(v, [0.3, 0.4, 0, 0, 0, 1.0])
    with pytest.raises(TeleopError, match="6 finite"):
        clamp_twist([1, 2, 3], 1, 1)
    dog = TwistWatchdog(0.5)
    assert dog.get(0.0) is None
    dog.update(np.ones(6), 1.0)
    assert dog.get(1.4) is not None and dog.get(1.6) is None
    with pytest.raises(TeleopError, match="twist_timeout_s"):
        TeleopConfig(twist_timeout_s=0)
    with pytest.raises(TeleopError, match="initial_gripper"):
        TeleopConfig(initial_gripper=2)


@pytest.fixture(scope="module")
def env_robot():
    from gato_ros.robot import RobotModel, default_urdf_path
    from gato_ros.sim import StackingEnv

    env = StackingEnv(cell="primitive")
    yield env, RobotModel.from_file(default_urdf_path())
    env.close()


def test_scripted_twists_drive_the_sim_arm(env_robot):
    """+z then +x twists move the pinch point that way; no twist holds it; the gripper closes on command."""
    from gato_ros.sim.env import SUBSTEPS

    env, robot = env_robot
    obs = env.reset(0)
    teleop = TeleopController(robot, TeleopConfig())
    dt = 0.05

    def run(twist, gripper, steps):
        nonlocal obs
        for _ in range(steps):
            obs = env.physics_step(teleop.step(obs.q, obs.qd, twist, gripper, dt), SUBSTEPS)
        return robot.fk(obs.q[:7])[:3, 3].copy()

    p0 = run(None, 0.0, 10)  # settle
    p1 = run(np.array([0, 0, 0.1, 0, 0, 0]), 0.0, 20)  # 1 s up at 0.1 m/s
    assert 0.07 < p1[2] - p0[2] < 0.13 and np.linalg.norm(p1[:2] - p0[:2]) < 0.02
    p2 = run(np.array([0.1, 0, 0, 0, 0, 0]), 0.0, 20)  # 1 s forward
    assert 0.07 < p2[0] - p1[0] < 0.13 and abs(p2[2] - p1[2]) < 0.02
    p3 = run(None, 0.0, 20)  # twist stopped: hold the pose
    assert np.linalg.norm(p3 - p2) < 0.02
    g_open = obs.q[7]
    run(None, 1.0, 20)
    assert obs.q[7] > g_open + 0.3  # 2F-85 driver angle: 0 open ... 0.8 closed


def test_reanchors_after_the_arm_jumps(env_robot):
    env, robot = env_robot
    teleop = TeleopController(robot, TeleopConfig())
    obs = env.reset(1)
    teleop.step(obs.q, obs.qd, None, 0.0, 0.05)
    q = obs.q.copy()
    q[1] += 0.6  # e.g. the sim was reset to another posture
    teleop.step(q, obs.qd, None, 0.0, 0.05)
    assert teleop.reanchors == 1
    assert np.allclose(teleop.target.position, robot.fk(q[:7])[:3, 3])
    with pytest.raises(TeleopError, match="8 finite"):
        teleop.step(q[:7], obs.qd, None, 0.0, 0.05)
