"""benchmarks/failure_modes.py: how held-out episodes end, and the expert-dimension probe."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

from failure_modes import ExpertDims, classify  # noqa: E402
from visited_error import ModelPolicy  # noqa: E402


def test_classify_orders_the_modes() -> None:
    z = np.array([0.02, 0.03, 0.02])
    held, far = np.array([False, True, False]), np.array([0.2, 0.2, 0.2])
    assert classify(True, z, held, far) == "stacked"
    assert classify(False, z, held, far) == "grasp_slips"
    assert classify(False, np.array([0.02, 0.5]), held[:2], far[:2]) == "over_lift"
    assert classify(False, np.array([0.02, 0.1]), held[:2], far[:2]) == "mis_steer"
    assert classify(False, np.array([0.02, 0.1]), held[:2], np.array([0.2, 0.01])) == "no_stack"


def test_expert_dims_probe_sends_the_expert_command_where_asked() -> None:
    """With every command dimension from the expert the probe's efforts are the expert's own label on each visited
    state (same controller); with none they are the model's."""
    from bc_baseline import rollout

    from gato_ros import paths
    from gato_ros.nodes.common import config_from_params_file
    from gato_ros.safety import SafetyConfig
    from gato_ros.sim.env import StackingEnv

    model = ModelPolicy(paths.models_dir() / "default")
    env = StackingEnv(object_frame=model.policy.config.tokenizer.object_frame)
    cfg = config_from_params_file(SafetyConfig, paths.config_dir() / "safety.yaml", "safety")
    visited: list = []
    rollout(env, cfg, ExpertDims(model, list(range(7))), 100_000, visited)
    assert len(visited) > 20
    for _, label, action, _ in visited[:40]:
        np.testing.assert_allclose(action, label, atol=1e-9)
    visited.clear()
    probe = ExpertDims(model, [])
    rollout(env, cfg, probe, 100_000, visited)
    assert not np.allclose([v[2] for v in visited[:40]], [v[1] for v in visited[:40]])


def test_turn_split_summary_reads_the_first_turning_step_and_the_rest() -> None:
    """Only steps where the expert turns (> 1 degree) before red is held count; the first is reported on its own."""
    from turn_split import summarize

    rows = [(0.0, 0.0, 0.0, 0.0, False, None),  # the expert does not turn
            (3.4, 0.1, 0.5, 0.4, False, 0.002),  # first turning step: split
            (3.4, 0.0, 0.0, 0.02, False, 0.01), (-3.4, 0.3, 0.02, 0.0, False, 0.01),
            (3.4, 0.0, 0.9, 0.0, True, None)]  # red held: not a pre-grasp turn
    got = summarize(rows)
    assert got["turning_steps"] == 3 and got["first"] == {"p_plus": 0.5, "p_minus": 0.4, "direction_margin_m": 0.002}
    assert got["later_mean"] == {"p_plus": 0.01, "p_minus": 0.01}
    assert got["mean_abs_model_turn_deg"] == round((0.1 + 0.0 + 0.3) / 3, 3) and got["mean_abs_expert_turn_deg"] == 3.4
    assert summarize(rows[:1]) is None


def test_direction_margin_compares_the_best_grasp_either_way() -> None:
    """(yaw, cost, signed turn) rows: the margin is the best other-way cost minus the chosen one's."""
    from turn_split import direction_margin

    rows = np.array([[0.3, 0.050, 0.3], [0.6, 0.045, 0.6], [-0.5, 0.048, -0.5], [-0.9, 0.060, -0.9]])
    assert direction_margin(rows) == pytest.approx(0.003)
    assert direction_margin(None) is None
    assert direction_margin(np.array([[0.0, 0.04, 0.0], [0.5, 0.05, 0.5]])) is None  # no turn needed
