"""generate_demos writes rosbag2 episodes of the expert that read back as the same arrays."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import gato_ros.sim.env as env_mod
from gato_ros.demos.generate import (  # noqa: E402
    INSTRUCTION, CommandNoise, DemoGenerationError, contact_sheet, generate_demos, rollout,
)
from gato_ros.sim.expert import ScriptedExpert  # noqa: E402


def _bag():
    import gato_ros.demos.bag

    return gato_ros.demos.bag


def test_rollout_records_a_consistent_successful_episode(tmp_path: Path) -> None:
    """One primitive-cell expert episode (~2 s): rows align, the expert grasps, stacks and stops early."""
    env = env_mod.StackingEnv(cell="primitive")
    result = rollout(env, ScriptedExpert(env, seed=0), seed=0)
    ep = result.episode
    assert result.success and result.stacked and result.steps == len(ep) < 400
    assert ep.images.shape == (len(ep), 64, 64, 3) and ep.joint_positions.shape == (len(ep), 8)
    assert ep.success is True and ep.source == "sim_expert" and ep.instruction == INSTRUCTION
    assert ep.actions[:, 7].max() == 1.0 and ep.actions[-1, 7] == -1.0  # closed to grasp, open at the end
    assert np.all(np.abs(ep.actions[:, :7]) <= np.asarray(env.robot.effort_limits)[:7] + 1e-9)
    assert not np.array_equal(ep.images[0], ep.images[-1])  # the scene changed on camera
    # the Cartesian command behind each effort command: bounded moves, the same gripper command, and the arm torques
    # are the impedance controller's for it at the recorded state (what a cartesian model's runtime computes)
    from gato_ros.control import CartesianImpedanceController
    from gato_ros.interfaces import CARTESIAN_MAX_STEP, CARTESIAN_MAX_TURN

    cmd = ep.cartesian_commands
    assert cmd.shape == (len(ep), 7) and np.array_equal(cmd[:, 6], ep.actions[:, 7])
    assert np.abs(cmd[:, :3]).max() <= CARTESIAN_MAX_STEP + 1e-12 and np.linalg.norm(cmd[:, 3:6], axis=1).max() \
        <= CARTESIAN_MAX_TURN + 1e-12
    ctrl = CartesianImpedanceController(env.robot)
    ctrl.set_posture(ep.joint_positions[0, :7])
    for t in range(0, len(ep), 17):
        np.testing.assert_allclose(ctrl.lead_torques(ep.joint_positions[t, :7], ep.joint_velocities[t, :7],
                                                     cmd[t, :6]), ep.actions[t, :7], atol=1e-9)
    sheet = contact_sheet(ep.images, tmp_path / "sheet.png")
    assert sheet.stat().st_size > 1000


def test_short_demos_read_back(tmp_path: Path) -> None:
    bag = _bag()
    summaries = generate_demos(tmp_path, episodes=2, seed=5, max_steps=12, progress=False)
    assert [s["episode"] for s in summaries] == ["episode_00000", "episode_00001"]
    assert [s["seed"] for s in summaries] == [5, 6]
    for s in summaries:
        ep = bag.read_episode(tmp_path / s["episode"])
        assert len(ep) == s["steps"] == 12
        assert ep.images.shape == (12, 64, 64, 3) and ep.images.dtype == np.uint8
        assert ep.images.std() > 0  # a rendered scene, not a blank frame
        assert ep.actions.shape == (12, 8) and np.all(np.isfinite(ep.actions))
        assert np.all(ep.actions[:, 7] == -1.0)  # gripper open while approaching
        assert ep.instruction == INSTRUCTION
        assert ep.success is False  # 12 steps cannot stack
    report = json.loads((tmp_path / "summary.json").read_text())
    assert report["episodes"] == 2 and report["success_rate"] == 0.0
    assert (tmp_path / "contact_sheet.png").stat().st_size > 1000


def test_refuses_foreign_dirs_and_bad_counts(tmp_path: Path) -> None:
    _bag()
    (tmp_path / "episode_00000").mkdir()  # not a complete bag: not ours to overwrite
    with pytest.raises(DemoGenerationError, match="incomplete"):
        generate_demos(tmp_path, episodes=1, progress=False, workers=1)
    with pytest.raises(DemoGenerationError, match="episodes must be"):
        generate_demos(tmp_path / "new", episodes=0, progress=False)
    with pytest.raises(DemoGenerationError, match="workers must be"):
        generate_demos(tmp_path / "new", episodes=1, progress=False, workers=0)


def test_resume_skips_complete_episodes_and_records_object_state(tmp_path: Path) -> None:
    bag = _bag()
    first = generate_demos(tmp_path, episodes=1, seed=3, max_steps=5, progress=False, workers=1)
    bag_file = tmp_path / "episode_00000" / "episode_00000.mcap"
    mtime = bag_file.stat().st_mtime_ns
    (tmp_path / ".episode_00001.partial").mkdir()  # what an interrupted run leaves behind
    rows = generate_demos(tmp_path, episodes=3, seed=3, max_steps=5, progress=False, workers=2)
    assert bag_file.stat().st_mtime_ns == mtime  # complete episode skipped, not rewritten
    assert [r["seed"] for r in rows] == [3, 4, 5] and rows[0] == first[0]
    assert not (tmp_path / ".episode_00001.partial").exists()
    assert [p.name for p in bag.list_episodes(tmp_path)] == ["episode_00000", "episode_00001", "episode_00002"]
    report = json.loads((tmp_path / "summary.json").read_text())
    assert report["episodes"] == 3 and report["resumed"] == 1 and len(report["episodes_detail"]) == 3
    env = env_mod.StackingEnv(cell="primitive")
    env.reset(4)
    ep = bag.read_episode(tmp_path / "episode_00001")
    assert ep.object_state.shape == (5, 21) and np.allclose(ep.object_state[0], env.object_state())
    with pytest.raises(DemoGenerationError, match="other settings"):
        generate_demos(tmp_path, episodes=3, seed=4, max_steps=5, progress=False, workers=1)


def test_object_frame_is_recorded_and_kept_on_resume(tmp_path: Path) -> None:
    """--object-frame grasp records each object's grasp-frame pose (the sim's, as StackingEnv reports it) and says so
    in the bag; resuming with body frames would mix two data sets and is refused."""
    bag = _bag()
    generate_demos(tmp_path, episodes=1, seed=4, max_steps=3, progress=False, workers=1, object_frame="grasp")
    ep = bag.read_episode(tmp_path / "episode_00000")
    env = env_mod.StackingEnv(cell="primitive", object_frame="grasp")
    env.reset(4)
    assert ep.object_frame == "grasp" and np.allclose(ep.object_state[0], env.object_state())
    with pytest.raises(DemoGenerationError, match="other settings"):
        generate_demos(tmp_path, episodes=2, seed=4, max_steps=3, progress=False, workers=1)
    with pytest.raises(DemoGenerationError, match="object_frame"):
        generate_demos(tmp_path / "x", episodes=1, progress=False, workers=1, object_frame="camera")


def test_command_noise_is_bounded_correlated_and_seeded() -> None:
    from gato_ros.interfaces import CARTESIAN_MAX_STEP, CARTESIAN_MAX_TURN

    command = np.array([0.01, -0.012, 0.0, 0.05, 0.0, -0.06, 1.0])
    a, b, other = CommandNoise(0.5, 0.9, seed=7), CommandNoise(0.5, 0.9, seed=7), CommandNoise(0.5, 0.9, seed=8)
    rows = np.stack([a(command) for _ in range(2000)])
    assert np.array_equal(rows[0], b(command)) and not np.array_equal(rows[0], other(command))
    bound = np.repeat([CARTESIAN_MAX_STEP, CARTESIAN_MAX_TURN], 3)
    assert np.all(np.abs(rows[:, :6]) <= bound + 1e-15) and np.all(rows[:, 6] == 1.0)  # the gripper is never noised
    drift = rows[:, 2] - command[2]  # an axis far from its bounds: AR(1) with std 0.5 x the bound, lag-1 corr 0.9
    assert 0.4 * CARTESIAN_MAX_STEP < drift.std() < 0.6 * CARTESIAN_MAX_STEP
    assert 0.8 < np.corrcoef(drift[:-1], drift[1:])[0, 1] < 0.97
    for scale, corr in ((-0.1, 0.5), (0.1, 1.0), (0.1, -0.2)):
        with pytest.raises(DemoGenerationError, match="noise"):
            CommandNoise(scale, corr, seed=0)


def test_noisy_rollout_executes_the_perturbed_command_and_records_the_clean_one() -> None:
    """With noise the states drift off the clean path, and each recorded row is still the expert's own label."""
    env = env_mod.StackingEnv(cell="primitive")
    expert = ScriptedExpert(env, seed=0)
    clean = rollout(env, expert, seed=0, max_steps=40, stop_on_success=False).episode
    noisy = rollout(env, expert, seed=0, max_steps=40, stop_on_success=False, noise=0.5).episode
    assert np.array_equal(clean.joint_positions[0], noisy.joint_positions[0])
    assert np.abs(noisy.joint_positions[-1] - clean.joint_positions[-1]).max() > 1e-3
    from gato_ros.control import CartesianImpedanceController

    ctrl = CartesianImpedanceController(env.robot)
    ctrl.set_posture(noisy.joint_positions[0, :7])
    for t in range(0, 40, 7):  # labels are the clean command's torques at the recorded (perturbed) state
        np.testing.assert_allclose(ctrl.lead_torques(noisy.joint_positions[t, :7], noisy.joint_velocities[t, :7],
                                                     noisy.cartesian_commands[t, :6]), noisy.actions[t, :7], atol=1e-9)
    assert np.array_equal(noisy.actions[:, 7], noisy.cartesian_commands[:, 6])
    with pytest.raises(DemoGenerationError, match="noise"):
        generate_demos(Path("/nonexistent-never-written"), episodes=1, noise=-1.0, progress=False)
    # noise restricted to phases the first 40 steps never reach executes the clean command throughout
    late = rollout(env, expert, seed=0, max_steps=40, stop_on_success=False, noise=0.5,
                   noise_phases=("retreat",)).episode
    np.testing.assert_array_equal(late.joint_positions, clean.joint_positions)
    with pytest.raises(DemoGenerationError, match="unknown noise phases"):
        generate_demos(Path("/nonexistent-never-written"), episodes=1, noise=0.1, noise_phases=("lfit",),
                       progress=False)


@pytest.mark.slow
def test_full_expert_demo_is_a_successful_bag(tmp_path: Path) -> None:
    bag = _bag()
    (summary,) = generate_demos(tmp_path, episodes=1, seed=0, progress=False)
    assert summary["success"], summary
    ep = bag.read_episode(tmp_path / "episode_00000")
    assert ep.success is True and len(ep) == summary["steps"] <= 400
    assert ep.actions[:, 7].max() == 1.0 and ep.actions[-1, 7] == -1.0  # closed to grasp, open at the end
