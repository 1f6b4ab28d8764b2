"""DAgger relabelling (Ross et al. 2011): roll a trained model out in the sim and record, at every state it
visits, the scripted expert's action for that state (`ScriptedExpert.label`), so the next training run sees
the states its own mistakes lead to, with the expert's correction as the target.

Rollouts go through the same SafetyFilter loop as `gato-ros eval --direct` (gato_ros.eval.direct), with
`beta` the per-step probability of executing the expert's action instead of the model's (0 = pure model).
Episodes are written as ordinary demo bags (source 'dagger'), one per seed, and can be mixed into a training
YAML next to expert demos. Seeds are the caller's (use a range disjoint from the evaluation's held-out seeds).
"""

from __future__ import annotations

import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np

from gato_ros.demos.generate import INSTRUCTION
from gato_ros.episode import Episode
from gato_ros.eval import direct

DONE_STEPS = 10  # stop once the stack has held this many control steps (like the expert demos' early stop)


def _collect(object_set: str, seed: int, beta: float, out_dir: str) -> dict:
    """One relabelled rollout in a worker (after direct._init), written to out_dir/episode_<seed>."""
    from gato_ros.demos.bag import write_episode
    from gato_ros.sim.expert import ScriptedExpert

    cfg: direct.DirectConfig = direct._W["cfg"]
    env, obs, policy_act, safety, _ = direct.start_episode(object_set, seed)
    expert = ScriptedExpert(env, seed)
    expert.reset(obs)
    rng = np.random.default_rng([seed, 7])
    rows: dict[str, list] = {"images": [], "q": [], "qd": [], "labels": [], "objects": [], "commands": [],
                             "extents": []}

    def act(o: Any) -> np.ndarray:
        label = expert.label(o)
        ours = np.asarray(policy_act(o), dtype=np.float64)  # always called: the model's cache stays its own
        rows["images"].append(np.asarray(o.image, dtype=np.uint8))
        rows["q"].append(np.asarray(o.q, dtype=np.float64))
        rows["qd"].append(np.asarray(o.qd, dtype=np.float64))
        rows["labels"].append(label)
        rows["commands"].append(expert.last_command)  # the Cartesian command behind the label
        rows["objects"].append(env.object_state())
        rows["extents"].append(env.object_extents())
        return label if rng.random() < beta else ours

    held = 0
    for _ in direct.control_steps(env, obs, act, safety, cfg.max_steps, render=True):
        held = held + 1 if env.success() else 0
        if held >= DONE_STEPS:
            break
    success = bool(env.success())
    ep = Episode(np.stack(rows["images"]), np.stack(rows["q"]), np.stack(rows["qd"]), np.stack(rows["labels"]),
                 list(env.joint_names), INSTRUCTION, success, source="dagger", control_rate_hz=env.control_rate_hz,
                 camera=env.camera, object_state=np.stack(rows["objects"]),
                 cartesian_commands=np.stack(rows["commands"]), object_frame=env.object_frame,
                 object_extents=np.stack(rows["extents"]))
    path = Path(out_dir) / f"episode_{seed:06d}"
    tmp = path.with_name("." + path.name + ".partial")
    write_episode(tmp, ep)
    tmp.rename(path)
    return {"episode": path.name, "seed": seed, "steps": len(ep), "success": success, "stage": str(env.stage())}


def collect_dagger(model_dir: Path, out_dir: Path, episodes: int, seed: int, cell: str = "primitive",
                   object_set: str = "rgb_train_random", beta: float = 0.0, workers: int | None = None,
                   progress: bool = True, max_steps: int = direct.MAX_STEPS) -> dict:
    """Relabelled rollouts of the model on seeds seed..seed+episodes-1; existing episodes are skipped (resumable).
    Writes out_dir/summary.json and returns it."""
    from tqdm import tqdm

    if not 0.0 <= beta <= 1.0:
        raise ValueError(f"beta must be in [0, 1], got {beta}")
    out_dir.mkdir(parents=True, exist_ok=True)
    cfg = direct.DirectConfig(model_dir=model_dir, episodes=episodes, seed=seed, cell=cell,
                              object_sets=(object_set,), workers=workers, progress=progress, max_steps=max_steps)
    todo = [s for s in range(seed, seed + episodes) if not (out_dir / f"episode_{s:06d}").is_dir()]
    n_workers = max(1, min(workers or os.cpu_count() or 1, len(todo)))
    rows: list[dict] = []
    bar = tqdm(total=len(todo), desc="dagger rollouts", unit="ep", disable=not progress)
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(n_workers, mp_context=ctx, initializer=direct._init, initargs=(cfg,)) as pool:
        futures = [pool.submit(_collect, object_set, s, beta, str(out_dir)) for s in todo]
        for f in as_completed(futures):
            rows.append(f.result())
            bar.update(1)
            bar.set_postfix(success=f"{sum(r['success'] for r in rows)}/{len(rows)}")
    bar.close()
    summary_path = out_dir / "summary.json"
    old = json.loads(summary_path.read_text())["episodes_detail"] if summary_path.is_file() else []
    rows = sorted(old + rows, key=lambda r: r["seed"])
    summary = {"model": str(model_dir), "cell": cell, "object_set": object_set, "beta": beta,
               "episodes": len(rows), "rollout_success_rate": float(np.mean([r["success"] for r in rows])),
               "episodes_detail": rows}
    summary_path.write_text(json.dumps(summary, indent=2))
    return summary
