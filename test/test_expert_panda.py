"""The scripted expert on the Franka Panda cell: the gripper mapping onto the 2F-85 angles its thresholds use, the
Panda's preset, and (slow) full episodes. Skipped without robosuite's assets."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import robosuite_available


pytestmark = pytest.mark.skipif(not robosuite_available(), reason="robosuite (Panda assets) not installed")


@pytest.fixture(scope="module")
def env():
    from gato_ros.sim.env import StackingEnv

    env = StackingEnv(robot="panda")
    yield env
    env.close()


def test_panda_env_reports_franka_names_and_holds_home_under_zero_torque(env) -> None:
    obs = env.reset(0)
    assert env.joint_names[0] == "panda_joint1" and env.joint_names[7] == "panda_finger_joint1"
    np.testing.assert_allclose(obs.q[:7], env.description.home_q, atol=1e-3)
    start = env.pinch_position()
    for _ in range(10):
        obs = env.step(np.r_[np.zeros(7), -1.0])
    assert np.linalg.norm(env.pinch_position() - start) < 1e-3  # gravity compensation holds the arm
    assert obs.q[7] > 0.038  # open
    for _ in range(10):
        obs = env.step(np.r_[np.zeros(7), 1.0])
    assert obs.q[7] < 0.002  # closed on nothing


def test_gripper_position_maps_onto_the_2f85_angles(env) -> None:
    from gato_ros.sim.expert import ROBOT_PRESETS, ScriptedExpert

    expert = ScriptedExpert(env)
    assert expert._driver_angle(0.04) == pytest.approx(0.0) and expert._driver_angle(0.0) == pytest.approx(0.8)
    assert expert.config.grasp_depth == ROBOT_PRESETS["panda"]["grasp_depth"]


@pytest.mark.slow
def test_expert_stacks_on_the_panda(env) -> None:
    from gato_ros.demos.generate import rollout
    from gato_ros.sim.expert import ScriptedExpert

    expert = ScriptedExpert(env)
    results = [rollout(env, expert, seed, record=False) for seed in range(3)]
    assert all(r.success for r in results), [(r.seed, r.stage) for r in results]


def test_demos_generate_writes_panda_bags_with_franka_joint_names(tmp_path) -> None:
    """`gato-ros demos generate --robot panda`: one expert episode as a rosbag2 MCAP, read back with the Panda's
    joint names (the bag reader's default names are the Sawyer's)."""
    from gato_ros.demos.bag import read_episode
    from gato_ros.demos.generate import DemoGenerationError, generate_demos
    from gato_ros.robot.registry import load_robot

    rows = generate_demos(tmp_path / "demos", 1, seed=0, robot="panda", progress=False, workers=1, preview=False)
    assert rows[0]["success"]
    names = load_robot("panda").joint_names
    episode = read_episode(tmp_path / "demos" / "episode_00000", names)
    assert tuple(episode.joint_names) == names and len(episode.actions) == rows[0]["steps"]
    with pytest.raises(DemoGenerationError, match="other settings"):  # resuming as Sawyer demos is refused
        generate_demos(tmp_path / "demos", 2, seed=0, robot="sawyer", progress=False, workers=1)
