"""Does a Cartesian model start the wrist turn the expert makes before a grasp? Closed-loop rollouts (the
`gato-ros eval --direct` loop, via bc_baseline.rollout) that read, at every step where the expert turns the wrist
(|rz| > 1 degree) and red is not yet held, the model's softmax over the turn's value bins.

    python benchmarks/turn_split.py --model models/default --episodes 8 \
        --out benchmarks/results/eighth_round/turn_split.json

Per episode: at the first such step, the probability of a turn either way (> +1 or < -1 degree) and how close the
expert's own choice of direction was (its best grasp turning the other way costs `direction_margin_m` more, in its
cost's metres of grasp width: ScriptedExpert.grasp_candidates), then the probabilities averaged over the later steps,
and the mean |turn| commanded. A split first step (mass on both sides) with nearly
none on either side afterwards is a policy that would turn if it knew which way, and then copies the wrist's
stillness (docs/MODEL.md, "Eighth round"). Validation seeds from 200000 by default. Each call appends one row to
--out.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bc_baseline import rollout  # noqa: E402
from visited_error import ModelPolicy  # noqa: E402

TURN = 5  # the turn about z in CARTESIAN_COMMAND_NAMES
TURNING_DEG = 1.0


class TurnProbe:
    """Wraps a ModelPolicy: records (expert turn, model turn, P(turn > +1 deg), P(turn < -1 deg), red held, the
    expert's direction margin) per step."""

    def __init__(self, model: ModelPolicy, env: Any) -> None:
        self.model, self.env, self.expert = model, env, None
        self.rows: list[tuple[float, float, float, float, bool, float | None]] = []
        n = model.policy.last_logits.shape[1]
        centres = (np.arange(n) + 0.5) * (2.0 / n) - 1.0
        self.degrees = np.degrees(centres * model.policy.tokenizer.action_scale[TURN])

    def bind_expert(self, expert: object) -> None:
        self.expert = expert

    def reset(self) -> None:
        self.rows.clear()
        self.model.reset()

    def __call__(self, feat: np.ndarray) -> np.ndarray:
        action = self.model(feat)
        logits = self.model.policy.last_logits[TURN].astype(np.float64)
        p = np.exp(logits - logits.max())
        p /= p.sum()
        self.rows.append((float(np.degrees(self.expert.last_command[TURN])),
                          float(np.degrees(self.model.policy.last_command[TURN])),
                          float(p[self.degrees > TURNING_DEG].sum()), float(p[self.degrees < -TURNING_DEG].sum()),
                          bool(self.env.grasping("red")), direction_margin(self.expert.last_grasp_candidates)))
        return action


def direction_margin(candidates: np.ndarray | None) -> float | None:
    """How much more (cost units, m) the expert's best grasp turning the other way costs than its choice; None when
    it weighed no grasp this step or its choice needs no turn."""
    if candidates is None:
        return None
    best = int(np.argmin(candidates[:, 1]))
    side = np.sign(candidates[best, 2])
    other = candidates[np.sign(candidates[:, 2]) == -side, 1]
    if side == 0 or not len(other):
        return None
    return float(other.min() - candidates[best, 1])


def summarize(rows: list[tuple[float, float, float, float, bool, float | None]]) -> dict[str, Any] | None:
    """The first and later expert-turning steps before red is held, or None when the expert does not turn."""
    turning = [r for r in rows if abs(r[0]) > TURNING_DEG and not r[4]]
    if not turning:
        return None
    first, later = turning[0], turning[1:]
    return {"turning_steps": len(turning),
            "first": {"p_plus": round(first[2], 3), "p_minus": round(first[3], 3),
                      "direction_margin_m": None if first[5] is None else round(first[5], 4)},
            "later_mean": {"p_plus": round(float(np.mean([r[2] for r in later])), 3) if later else None,
                           "p_minus": round(float(np.mean([r[3] for r in later])), 3) if later else None},
            "mean_abs_model_turn_deg": round(float(np.mean([abs(r[1]) for r in turning])), 3),
            "mean_abs_expert_turn_deg": round(float(np.mean([abs(r[0]) for r in turning])), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="Cartesian object-state model directory")
    parser.add_argument("--episodes", type=int, default=8)
    parser.add_argument("--seed", type=int, default=200_000, help="first seed (default: the validation block)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    from gato_ros import paths
    from gato_ros.nodes.common import config_from_params_file
    from gato_ros.safety import SafetyConfig
    from gato_ros.sim.env import StackingEnv

    model = ModelPolicy(args.model)
    if model.policy.controller is None:
        parser.error("--model must be a Cartesian model (robot.action_space: cartesian)")
    env = StackingEnv(cell="primitive", object_set="rgb_train_random",
                      object_frame=model.policy.config.tokenizer.object_frame)
    model.bind_env(env)
    probe = TurnProbe(model, env)
    safety_cfg = config_from_params_file(SafetyConfig, paths.config_dir() / "safety.yaml", "safety")
    detail = []
    for i in range(args.episodes):
        ok, stage = rollout(env, safety_cfg, probe, args.seed + i)
        row = {"seed": args.seed + i, "success": ok, "stage": stage, "turn": summarize(probe.rows)}
        detail.append(row)
        print(json.dumps(row), flush=True)
    turned = [d["turn"] for d in detail if d["turn"]]
    result = {"model": str(args.model), "decoding": model.policy.config.tokenizer.decoding, "episodes": args.episodes,
              "first_seed": args.seed, "episodes_with_expert_turn": len(turned),
              "mean_abs_model_turn_deg": round(float(np.mean([t["mean_abs_model_turn_deg"] for t in turned])), 3)
              if turned else None, "episodes_detail": detail}
    rows = json.loads(args.out.read_text()) if args.out.is_file() else []
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows + [result], indent=1))


if __name__ == "__main__":
    main()
