"""Staged progress bookkeeping of `gato-ros eval` (pure logic)."""

import pytest

from gato_ros.eval.stages import EpisodeOutcome, aggregate, best_stage, stage_rank


def test_stage_order_and_best():
    assert [stage_rank(s) for s in ("none", "reached", "grasped", "lifted", "stacked")] == [0, 1, 2, 3, 4]
    assert stage_rank("bogus") == 0
    assert best_stage(["none", "lifted", "reached"]) == "lifted"
    assert best_stage([]) == "none"


def test_aggregate_counts_at_least_each_stage():
    eps = [EpisodeOutcome("rgb_test_triplet1", s, False, st == "stacked", st, 20.0)
           for s, st in enumerate(["stacked", "grasped", "none", "reached"])]
    r = aggregate(eps, {"tick_p50_ms": "3"}, 2)
    assert r.success_rate == 0.25
    assert r.stage_rates == {"reached": 0.75, "grasped": 0.5, "lifted": 0.25, "stacked": 0.25}
    assert r.safety_interventions == 2 and r.agent["tick_p50_ms"] == "3"
    with pytest.raises(ValueError):
        aggregate([])
