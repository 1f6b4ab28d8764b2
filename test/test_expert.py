"""Scripted torque expert on the MuJoCo cell: contract checks (fast) and a full stacking episode (slow)."""

from __future__ import annotations

import numpy as np
import pytest

from gato_ros.control import yaw_matrix

import gato_ros.sim.env as env_mod
from gato_ros.sim.expert import ExpertError, Phase, ScriptedExpert  # noqa: E402


@pytest.fixture(scope="module")
def env():
    return env_mod.StackingEnv(cell="primitive")


def test_act_before_reset_is_an_error(env) -> None:
    with pytest.raises(ExpertError, match="before reset"):
        ScriptedExpert(env, seed=0).act(env.reset(seed=0))


def test_first_actions_are_bounded_torques_with_open_gripper(env) -> None:
    expert = ScriptedExpert(env, seed=0)
    obs = env.reset(seed=3)
    expert.reset(obs)
    limits = np.asarray(expert.robot.effort_limits, dtype=float)
    for _ in range(5):
        action = expert.act(obs)
        assert action.shape == (8,) and np.all(np.isfinite(action))
        assert np.all(np.abs(action[:7]) <= limits[:7] + 1e-9)
        assert action[7] == -1.0
        obs = env.step(action)
    assert expert.phase is Phase.APPROACH


def test_grasp_closes_across_reds_narrow_side(env) -> None:
    expert = ScriptedExpert(env, seed=0)
    for seed in range(3):
        obs = env.reset(seed=seed)
        expert.reset(obs)
        red = expert.scene.geometry("red")
        xy = red.vertices[:, :2] - red.center[:2]
        rotation = expert._grasp_rotation(red, expert.controller.pose(obs.q[:7]).rotation)
        axis = rotation @ expert.scene.closing_axis
        assert abs(axis[2]) < 1e-6  # top-down grasp
        width = np.ptp(xy @ axis[:2])
        narrowest = min(np.ptp(xy @ (yaw_matrix(a) @ axis)[:2]) for a in np.linspace(0, np.pi, 181))
        assert width <= narrowest + 0.003


def test_label_is_a_function_of_the_state(env) -> None:
    """An expert that has run half an episode and a fresh one label the same state alike (no hidden phase
    clock or latched command), so any state a learner visits can be relabelled (DAgger)."""
    seasoned = ScriptedExpert(env, seed=0)
    obs = env.reset(seed=4)
    seasoned.reset(obs)
    start = obs
    for _ in range(90):
        obs = env.step(seasoned.act(obs))
    fresh = ScriptedExpert(env, seed=7)
    fresh.reset(start)  # same start posture
    np.testing.assert_array_equal(fresh.label(obs), seasoned.label(obs))
    assert fresh.phase is seasoned.phase


def test_expert_stacks_red_on_blue_on_primitive_cell(env) -> None:
    """One full primitive-cell episode (~2 s): the CI end-to-end check of the expert."""
    expert = ScriptedExpert(env, seed=0)
    obs = env.reset(seed=0)
    expert.reset(obs)
    for _ in range(400):
        obs = env.step(expert.act(obs))
        if expert.done and obs.success:
            break
    assert expert.done, f"expert stuck in {expert.phase}"
    assert env.success() and env.stage() == "stacked"
    assert obs.q[7] < 0.2  # released: gripper open


def test_evaluate_expert_reports_rates_and_timing() -> None:
    from gato_ros.eval.expert import evaluate_expert

    res = evaluate_expert(cell="primitive", episodes=1, seed=0, progress=False)
    assert res["success_rate"] == 1.0 and res["stacked_rate"] == 1.0 and res["failures"] == []
    (row,) = res["episodes_detail"]
    assert row["seed"] == 0 and 0 < row["steps"] < 400 and row["sim_time_s"] == pytest.approx(row["steps"] * 0.05)
    assert res["real_time_factor"] > 0


def test_grasp_candidates_are_the_weighed_grasps_and_the_cheapest_is_taken(env) -> None:
    """Each approach step records the 144 grasps weighed (72 yaws, each either way round); the rotation commanded is
    the first of least cost, and each row's cost counts its signed turn."""
    obs = env.reset(seed=4)
    expert = ScriptedExpert(env, 4)
    expert.reset(obs)
    expert.act(obs)
    cands = expert.last_grasp_candidates
    assert cands.shape == (144, 3) and np.all(np.abs(cands[:, 2]) <= np.pi + 1e-9)
    best = cands[int(np.argmin(cands[:, 1]))]
    current = expert.robot.fk(np.asarray(obs.q, dtype=np.float64)[:7])[:3, :3]
    again = expert.grasp_candidates(expert.scene.geometry("red"), current)
    np.testing.assert_allclose(again, cands)
    rotation = expert._grasp_rotation(expert.scene.geometry("red"), current)
    np.testing.assert_allclose(rotation, yaw_matrix(best[0]) @ expert.scene.top_down_rotation, atol=1e-12)
