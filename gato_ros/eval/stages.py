"""Staged task progress (reached < grasped < lifted < stacked) and per-condition aggregation."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from gato_ros.eval.stats import wilson_interval

STAGES: tuple[str, ...] = ("none", "reached", "grasped", "lifted", "stacked")


def stage_rank(stage: str) -> int:
    """Index of `stage` in STAGES; unknown text ranks as 'none'."""
    stage = (stage or "none").strip().lower()
    return STAGES.index(stage) if stage in STAGES else 0


def best_stage(stages: Iterable[str]) -> str:
    return STAGES[max((stage_rank(s) for s in stages), default=0)]


@dataclass
class EpisodeOutcome:
    """One evaluated episode: where it started (object set, seed) and how far it got."""

    object_set: str
    seed: int
    prompt: bool
    success: bool
    best_stage: str
    duration_s: float


@dataclass
class ConditionResult:
    """Aggregate over the episodes of one (object set, prompt) condition."""

    object_set: str
    prompt: bool
    episodes: int
    success_rate: float
    stage_rates: dict[str, float]
    agent: dict[str, str] = field(default_factory=dict)
    safety_interventions: int | None = None
    successes: int = 0
    success_ci95: tuple[float, float] = (0.0, 1.0)  # Wilson score interval (gato_ros.eval.stats)
    stage_ci95: dict[str, tuple[float, float]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def aggregate(outcomes: list[EpisodeOutcome], agent: Mapping[str, str] | None = None,
              interventions: int | None = None) -> ConditionResult:
    """Success rate and the share of episodes that reached at least each stage."""
    if not outcomes:
        raise ValueError("no episodes to aggregate")
    n = len(outcomes)
    ranks = [stage_rank(o.best_stage) for o in outcomes]
    counts = {s: sum(r >= i for r in ranks) for i, s in enumerate(STAGES) if s != "none"}
    k = sum(bool(o.success) for o in outcomes)
    return ConditionResult(outcomes[0].object_set, outcomes[0].prompt, n, k / n,
                           {s: c / n for s, c in counts.items()}, dict(agent or {}), interventions, k,
                           wilson_interval(k, n), {s: wilson_interval(c, n) for s, c in counts.items()})
