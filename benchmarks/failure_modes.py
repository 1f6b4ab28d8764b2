"""How an object-state model's held-out episodes end: closed-loop rollouts (the `gato-ros eval --direct` loop, via
bc_baseline.rollout) sorted into one failure mode each, from the simulator's state at every step.

    python benchmarks/failure_modes.py --model models/default --episodes 40 \
        --out benchmarks/results/failure_modes.json

Modes, checked in this order (m, world frame; "held" = both fingers touch red):
- `stacked`: the benchmark's held success.
- `grasp_slips`: red never rises `LIFTED_M` above where it started: the grip closes and red slips out.
- `over_lift`: red went higher than `TOO_HIGH_M`, above anything in the demos (the expert carries red's bottom 4 cm
  over the taller other object): the command kept lifting.
- `mis_steer`: lifted, but never held within `OVER_BLUE_M` of blue horizontally: transport missed blue.
- `no_stack`: held over blue at some point, yet never a held stack (placing or releasing failed).

Held-out seeds from 100000, never selected. Each call appends one row (model, counts, per-episode detail) to --out.

`--expert-dims 3,4,5` (a Cartesian model only) is a probe, not a policy: those command dimensions (here the wrist
turn) are replaced by the scripted expert's on every visited state, the rest stays the model's. The success it
reaches bounds what learning those dimensions perfectly would give.
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
from bc_baseline import rollout  # noqa: E402
from visited_error import ModelPolicy  # noqa: E402

LIFTED_M = 0.03
TOO_HIGH_M = 0.35
OVER_BLUE_M = 0.02
MODES = ("stacked", "grasp_slips", "over_lift", "mis_steer", "no_stack")


def classify(ok: bool, red_z: np.ndarray, held: np.ndarray, red_blue_xy: np.ndarray) -> str:
    """One mode (MODES) from the per-step red height, held flag and red-blue horizontal distance."""
    if ok:
        return "stacked"
    if red_z.max() - red_z[0] < LIFTED_M:
        return "grasp_slips"
    if red_z.max() > TOO_HIGH_M:
        return "over_lift"
    if not np.any(held & (red_blue_xy < OVER_BLUE_M)):
        return "mis_steer"
    return "no_stack"


class ExpertDims:
    """A Cartesian model whose command dimensions `dims` are the expert's command on the same state (a probe)."""

    def __init__(self, model: ModelPolicy, dims: list[int]) -> None:
        if model.policy.controller is None:
            raise ValueError("--expert-dims needs a Cartesian model (robot.action_space: cartesian)")
        self.model, self.dims, self.expert = model, dims, None

    def bind_expert(self, expert: object) -> None:
        self.expert = expert

    def reset(self) -> None:
        self.model.reset()

    def __call__(self, feat: np.ndarray) -> np.ndarray:
        self.model(feat)
        command = np.array(self.model.policy.last_command, dtype=np.float64)
        command[self.dims] = np.asarray(self.expert.last_command)[self.dims]  # labelled before the policy acts
        torques = self.model.policy.controller.lead_torques(feat[:7], feat[7:14], command[:6])
        return np.concatenate([torques, command[6:]])


class Recorder:
    """Wraps a policy: before each action, records red's height, whether it is held, and its distance to blue."""

    def __init__(self, policy: Any, env: Any) -> None:
        self.policy, self.env = policy, env
        self.rows: list[tuple[float, bool, float]] = []

    def bind_expert(self, expert: object) -> None:
        if hasattr(self.policy, "bind_expert"):
            self.policy.bind_expert(expert)

    def reset(self) -> None:
        self.rows.clear()
        self.policy.reset()

    def __call__(self, feat: np.ndarray) -> np.ndarray:
        red, blue = self.env.object_poses()["red"][0], self.env.object_poses()["blue"][0]
        self.rows.append((float(red[2]), bool(self.env.grasping("red")), float(np.linalg.norm(red[:2] - blue[:2]))))
        return self.policy(feat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="object-state model directory (gato.json)")
    parser.add_argument("--episodes", type=int, default=40)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--expert-dims", default="", metavar="I,J,...",
                        help="probe: these Cartesian command dimensions come from the expert (3,4,5: the wrist turn)")
    args = parser.parse_args()

    from gato_ros import paths
    from gato_ros.eval.direct import HELDOUT_SEED
    from gato_ros.eval.stats import wilson_interval
    from gato_ros.nodes.common import config_from_params_file
    from gato_ros.safety import SafetyConfig
    from gato_ros.sim.env import StackingEnv

    model = ModelPolicy(args.model)
    env = StackingEnv(cell="primitive", object_set="rgb_train_random",
                      object_frame=model.policy.config.tokenizer.object_frame)
    model.bind_env(env)
    safety_cfg = config_from_params_file(SafetyConfig, paths.config_dir() / "safety.yaml", "safety")
    dims = [int(d) for d in args.expert_dims.split(",") if d]
    policy = Recorder(ExpertDims(model, dims) if dims else model, env)
    detail = []
    for i in range(args.episodes):
        ok, stage = rollout(env, safety_cfg, policy, HELDOUT_SEED + i)
        z, held, dxy = (np.array(col) for col in zip(*policy.rows))
        mode = classify(ok, z, held, dxy)
        detail.append({"seed": HELDOUT_SEED + i, "mode": mode, "stage": stage, "max_red_z": round(float(z.max()), 3),
                       "min_held_xy_to_blue": round(float(dxy[held].min()), 3) if held.any() else None})
        print(f"seed {HELDOUT_SEED + i}: {mode}", flush=True)
    counts = collections.Counter(d["mode"] for d in detail)
    row = {"model": str(args.model), "episodes": args.episodes, "expert_dims": dims,
           "modes": {m: {"count": counts[m], "ci95": wilson_interval(counts[m], args.episodes)} for m in MODES},
           "thresholds_m": {"lifted": LIFTED_M, "too_high": TOO_HIGH_M, "over_blue": OVER_BLUE_M},
           "episodes_detail": detail}
    rows = json.loads(args.out.read_text()) if args.out.is_file() else []
    args.out.write_text(json.dumps(rows + [row], indent=1))
    print({m: counts[m] for m in MODES})


if __name__ == "__main__":
    main()
