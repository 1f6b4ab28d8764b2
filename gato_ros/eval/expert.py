"""Measure the scripted expert's success rate over seeds, per object set, and the sim cost per episode.

python -m gato_ros.eval.expert --cell real --episodes 50 \
    --object-sets rgb_train_random rgb_test_triplet1 ... --out benchmarks/results/expert_success.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from gato_ros.demos.generate import MAX_STEPS, rollout
from gato_ros.robot.registry import DEFAULT_ROBOT

TEST_TRIPLETS: tuple[str, ...] = tuple(f"rgb_test_triplet{i}" for i in range(1, 6))


def evaluate_expert(cell: str = "primitive", object_set: str = "rgb_train_random", episodes: int = 50,
                    seed: int = 0, max_steps: int = MAX_STEPS, image_size: tuple[int, int] = (64, 64),
                    progress: bool = True, robot: str = DEFAULT_ROBOT) -> dict:
    """Success rate of the expert over seeds seed..seed+episodes-1 on one cell, object set and registry arm."""
    from tqdm import tqdm

    from gato_ros.sim.env import StackingEnv
    from gato_ros.sim.expert import ScriptedExpert

    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    env = StackingEnv(cell=cell, image_size=tuple(image_size), object_set=object_set, robot=robot)
    expert = ScriptedExpert(env, seed=seed)
    rows = []
    for i in tqdm(range(episodes), desc=f"expert {cell}/{object_set}", disable=not progress):
        r = rollout(env, expert, seed + i, max_steps=max_steps, record=False)
        rows.append({"seed": r.seed, "success": r.success, "stacked": r.stacked, "stage": r.stage,
                     "steps": r.steps, "attempts": expert.attempts, "objects": list(r.objects),
                     "stack_offset_m": round(r.stack_offset, 4), "sim_time_s": round(r.sim_time_s, 3),
                     "wall_time_s": round(r.wall_time_s, 3)})
    wall = np.array([r["wall_time_s"] for r in rows])
    sim = np.array([r["sim_time_s"] for r in rows])
    return {
        "cell": cell, "robot": robot, "object_set": object_set, "episodes": episodes, "first_seed": seed,
        "success_rate": float(np.mean([r["success"] for r in rows])),
        "stacked_rate": float(np.mean([r["stacked"] for r in rows])),
        "mean_steps": float(np.mean([r["steps"] for r in rows])),
        "mean_wall_s_per_episode": float(wall.mean()), "mean_sim_s_per_episode": float(sim.mean()),
        "real_time_factor": float(sim.sum() / max(wall.sum(), 1e-9)),
        "failures": [r for r in rows if not r["success"]], "episodes_detail": rows,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cell", default="primitive", choices=("primitive", "real"))
    parser.add_argument("--object-sets", nargs="+", default=["rgb_train_random"])
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--robot", default=DEFAULT_ROBOT, help="registry arm (robots/<name>): sawyer, panda")
    parser.add_argument("--out", type=Path, default=None, help="JSON results file")
    args = parser.parse_args(argv)
    results = []
    for object_set in args.object_sets:
        res = evaluate_expert(args.cell, object_set, args.episodes, args.seed, robot=args.robot)
        results.append(res)
        print(f"{args.robot} {args.cell}/{object_set}: success {res['success_rate']:.1%}, "
              f"stacked {res['stacked_rate']:.1%} over {res['episodes']} seeds, "
              f"{res['mean_wall_s_per_episode']:.2f} s wall/episode, {res['mean_steps']:.0f} steps")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
