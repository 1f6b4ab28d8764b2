"""Direct-rollout evaluation (no ROS): Wilson intervals, the success rule, one short episode end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gato_ros.eval.direct import DirectConfig, evaluate_direct, held_success
from gato_ros.eval.stages import EpisodeOutcome, aggregate
from gato_ros.eval.stats import mcnemar_exact, wilson_interval


@pytest.mark.parametrize("k, n, lo, hi", [
    (0, 10, 0.0, 0.277533), (5, 10, 0.236593, 0.763407), (10, 10, 0.722467, 1.0), (4, 10, 0.168180, 0.687326),
    (1, 1, 0.206549, 1.0), (0, 0, 0.0, 1.0),
])
def test_wilson_interval_known_values(k: int, n: int, lo: float, hi: float) -> None:
    assert wilson_interval(k, n) == pytest.approx((lo, hi), abs=1e-6)  # statsmodels proportion_confint 'wilson'
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


@pytest.mark.parametrize("a, b, p", [(4, 7, 0.548828), (0, 6, 0.03125), (5, 5, 1.0), (0, 0, 1.0), (1, 10, 0.011719)])
def test_mcnemar_exact_known_values(a: int, b: int, p: float) -> None:
    assert mcnemar_exact(a, b) == pytest.approx(p, abs=1e-6) == mcnemar_exact(b, a)  # 2 x binomial(n, 1/2) tail
    with pytest.raises(ValueError):
        mcnemar_exact(-1, 2)


def test_graph_eval_aggregate_carries_wilson_intervals() -> None:
    outcomes = [EpisodeOutcome("s", i, False, i < 5, "stacked" if i < 5 else "reached", 1.0) for i in range(10)]
    r = aggregate(outcomes).to_json()
    assert r["successes"] == 5 and r["success_ci95"] == pytest.approx((0.236593, 0.763407), abs=1e-6)
    assert r["stage_ci95"]["reached"] == pytest.approx((0.722467, 1.0), abs=1e-6)


def test_success_rule_held_or_at_the_end() -> None:
    assert held_success([False] * 3 + [True] * 10 + [False] * 5) == 3
    assert held_success([True] * 9 + [False] * 5) is None  # 9 steps is not held
    assert held_success([False] * 5 + [True] * 3) == 5  # true at the last step
    assert held_success([False] * 5) is None


def test_direct_expert_episode(tmp_path: Path) -> None:
    out = evaluate_direct(DirectConfig(expert=True, episodes=1, max_steps=20, workers=1, out_dir=tmp_path,
                                       progress=False))
    (row,) = out["episodes_detail"]
    assert row["seed"] == 100_000 and row["steps"] == 20 and row["success"] is False  # 1 s cannot stack
    assert out["overall"]["success_ci95"] == pytest.approx((0.0, 0.793450), abs=1e-6)
    assert "reset" in row["interventions"]  # the safety filter ran (armed by reset, as the runner does)
    assert json.loads((tmp_path / "results.json").read_text())["first_seed"] == 100_000
    assert (tmp_path / "results.png").stat().st_size > 1000


@pytest.mark.slow
def test_direct_random_tiny_model_two_workers(tiny_model: Path, tmp_path: Path) -> None:
    out = evaluate_direct(DirectConfig(model_dir=tiny_model, episodes=2, max_steps=15, workers=2, out_dir=tmp_path,
                                       progress=False))
    assert [r["seed"] for r in out["episodes_detail"]] == [100_000, 100_001]
    assert all(r["steps"] == 15 and r["act_ms_mean"] > 0 for r in out["episodes_detail"])


def test_command_latency_holds_the_previous_command_for_that_many_filter_ticks() -> None:
    """Each command reaches the safety filter `command_latency_s` after its observation: with 30 ms the first three
    10 ms ticks of an episode output the filter's hold, and every later command shows up three ticks late."""
    import numpy as np

    from gato_ros import paths
    from gato_ros.eval.direct import control_steps
    from gato_ros.nodes.common import config_from_params_file
    from gato_ros.safety import SafetyConfig, SafetyFilter
    from gato_ros.sim.env import StackingEnv

    env = StackingEnv(cell="primitive")
    cfg = config_from_params_file(SafetyConfig, paths.config_dir() / "safety.yaml", "safety")

    def outputs(latency_s: float) -> list[np.ndarray]:
        sent: list[np.ndarray] = []
        step = env.physics_step

        def spy(efforts: np.ndarray, substeps: int) -> object:  # the real step, with its efforts kept
            sent.append(np.array(efforts))
            return step(efforts, substeps)

        env.physics_step = spy
        safety = SafetyFilter(env.robot, cfg)
        safety.reset()
        commands = iter([np.full(8, 0.5 * (k + 1)) * np.sign(np.arange(8) - 3.5) for k in range(4)])
        try:
            list(control_steps(env, env.reset(seed=0), lambda _obs: next(commands), safety, 3, False, latency_s))
        finally:
            del env.physics_step
        return sent

    now, late = outputs(0.0), outputs(0.03)
    ticks = len(now) // 3
    assert len(late) == len(now) == 3 * ticks and ticks >= 4
    assert not np.allclose(now[0][:7], late[0][:7])  # the first command has not arrived yet
    np.testing.assert_allclose(late[3][7], now[0][7])  # the first command's gripper, three ticks later
    np.testing.assert_allclose(late[ticks + 3][7], now[ticks][7])  # and the second step's
    with pytest.raises(ValueError, match="latency"):
        DirectConfig(expert=True, command_latency_s=-0.01)
