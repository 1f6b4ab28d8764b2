"""Where a learner leaves the expert: closed-loop rollouts of an object-state model (or the MLP baseline), every
visited state labelled by `ScriptedExpert.label`, and the learner's error against that label by expert phase.

Teacher-forced error (benchmarks/learning.py) only scores the expert's own states; this scores the states the
learner actually visits, so the gap between the two is the covariate shift that closed-loop success pays for.

    python benchmarks/visited_error.py --model MODEL_DIR --episodes 10 --out benchmarks/results/visited_error.json
    python benchmarks/visited_error.py --mlp data/demos_objects --scale 8.4,20.9,7.8,22.3,5.2,6.2,11.2,2.0 \
        --episodes 10 --out benchmarks/results/visited_error.json

Held-out seeds from 100000 (as `gato-ros eval --direct`); each call appends one row to --out: outcome counts and,
per phase, the number of visited steps, the mean |action - label| per arm joint in units of its effort limit, and
how often the gripper command has the label's sign. With `--heldout DEMOS`, also how often the learner's first
wrist torque (j6, arm at rest) has the expert's sign on each held-out demo.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bc_baseline import LIMITS, MLPPolicy, load_demos, rollout  # noqa: E402


class ModelPolicy:
    """A model directory's GatoPolicy as a features -> efforts function (proprio 15 + objects 21); a model with
    tokenizer.object_extents reads them from `env` (bound with bind_env)."""

    def __init__(self, model_dir: Path) -> None:
        from gato_ros.runtime import GatoPolicy

        self.policy = GatoPolicy(str(model_dir), provider="cpu", threads=1)
        self.env: Any = None

    def bind_env(self, env: Any) -> None:
        self.env = env

    def reset(self) -> None:
        self.policy.reset()

    def __call__(self, feat: np.ndarray) -> np.ndarray:
        from gato_ros.demos.generate import INSTRUCTION

        extents = self.env.object_extents() if self.policy.config.tokenizer.object_extents else None
        return np.asarray(self.policy.act(None, feat[:15], INSTRUCTION, objects=feat[15:], extents=extents),
                          dtype=np.float64)


def by_phase(visited: list, limits: np.ndarray) -> dict[str, Any]:
    """Per expert phase: steps, mean |action - label| / effort limit per arm joint, gripper sign agreement."""
    groups: dict[str, list] = collections.defaultdict(list)
    for _, label, action, phase in visited:
        groups[phase].append((label, action))
    out = {}
    for phase, pairs in groups.items():
        labels, actions = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
        err = np.abs(actions[:, :7] - labels[:, :7]) / limits[:7]
        agree = float(np.mean(np.sign(actions[:, 7]) == np.sign(labels[:, 7])))
        out[phase] = {"steps": len(pairs), "error_per_joint": err.mean(0).round(4).tolist(),
                      "mean_error": round(float(err.mean()), 4), "gripper_sign_agreement": round(agree, 3)}
    return out


def first_step_wrist(policy: Any, heldout: Path) -> dict[str, Any]:
    """On each held-out demo's first state (arm at rest, the expert's own state): does the learner turn the wrist
    (j6) the way the expert does? The direction follows from red's orientation alone at that point."""
    from gato_ros.demos.bag import list_episodes, read_episode
    from gato_ros.observation import proprio_from_joints

    agree, strong = [], []
    for path in list_episodes(heldout):
        ep = read_episode(path)
        feat = np.concatenate([proprio_from_joints(ep.joint_positions[0], ep.joint_velocities[0]), ep.object_state[0]])
        if hasattr(policy, "reset"):
            policy.reset()
        label = ep.actions[0]
        agree.append(bool(np.sign(policy(feat)[6]) == np.sign(label[6])))
        strong.append(bool(abs(label[6]) > 0.5 * LIMITS[6]))
    return {"episodes": len(agree), "j6_sign_agreement": int(sum(agree)),
            "label_over_half_limit": int(sum(strong)),
            "agreement_where_over_half_limit": int(sum(a for a, s in zip(agree, strong) if s))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--model", type=Path, help="object-state model directory (gato.json + ONNX graphs)")
    who.add_argument("--mlp", type=Path, help="demo root: train the MLP baseline on it (bc_baseline.py)")
    parser.add_argument("--scale", default="8.4,20.9,7.8,22.3,5.2,6.2,11.2,2.0", help="MLP action scale (8 values)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--heldout", type=Path, help="held-out demo root: also score the first step's wrist direction")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)

    import torch

    from gato_ros import paths
    from gato_ros.eval.direct import HELDOUT_SEED
    from gato_ros.nodes.common import config_from_params_file
    from gato_ros.safety import SafetyConfig
    from gato_ros.sim.env import StackingEnv

    torch.set_num_threads(1)
    limits = np.array(LIMITS[:7] + (1.0,))
    if args.model:
        policy: Any = ModelPolicy(args.model)
        name = str(args.model)
    else:
        scale = np.array([float(v) for v in args.scale.split(",")])
        feats, acts = load_demos(args.mlp, 10**9)
        policy = MLPPolicy(feats, scale, limits, 0)
        policy.fit(feats, acts, args.epochs)
        name = f"mlp on {args.mlp}"
    frame = policy.policy.config.tokenizer.object_frame if args.model else "body"  # the MLPs read body frames
    env = StackingEnv(cell="primitive", object_set="rgb_train_random", object_frame=frame)
    if args.model:
        policy.bind_env(env)
    safety_cfg = config_from_params_file(SafetyConfig, paths.config_dir() / "safety.yaml", "safety")
    visited: list = []
    outcomes = [rollout(env, safety_cfg, policy, HELDOUT_SEED + i, visited)[1] for i in range(args.episodes)]
    row = {"learner": name, "episodes": args.episodes, "outcomes": dict(collections.Counter(outcomes)),
           "phases": by_phase(visited, limits)}
    if args.heldout:
        row["first_step_wrist"] = first_step_wrist(policy, args.heldout)
    print(json.dumps(row, indent=1))
    rows = json.loads(args.out.read_text()) if args.out.is_file() else []
    args.out.write_text(json.dumps(rows + [row], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
