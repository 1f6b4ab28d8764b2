"""Expert demonstrations in the MuJoCo cell, one rosbag2 (MCAP) directory per episode.

Each episode runs the scripted expert for at most `max_steps` 20 Hz control steps. With `stop_on_success`
(default) it ends early once the expert is done: red released resting on blue and the arm retreated;
otherwise (or if the expert never finishes) it runs to `max_steps`. The bag's outcome is the benchmark's
success test at the last step (StackingEnv.success); the summary also reports `stacked` (red resting
on blue), which does not depend on the objects' heights. Row t of the written Episode is the observation
at step t and the effort command the expert sent at step t (the bag contract of `gato_ros.demos.bag`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gato_ros.episode import Episode

INSTRUCTION = "stack the red object on the blue object"
MAX_STEPS = 400


class DemoGenerationError(RuntimeError):
    """Demo generation cannot run with the given arguments (bad counts, existing episode directories)."""


@dataclass(frozen=True)
class EpisodeResult:
    """One expert rollout as arrays, plus what the summary reports."""

    episode: Episode
    seed: int
    steps: int
    success: bool
    stacked: bool
    stage: str
    stack_offset: float  # (red height + blue height) / 2: centre offset of red resting on blue
    sim_time_s: float
    wall_time_s: float
    objects: tuple[str, ...]


def rollout(env: Any, expert: Any, seed: int, max_steps: int = MAX_STEPS, stop_on_success: bool = True,
            record: bool = True) -> EpisodeResult:
    """Run the expert for one episode of `env` from `seed`; arrays (and images) are kept only when `record`."""
    start = time.perf_counter()
    obs = env.reset(seed=seed)
    expert.reset(obs)
    stack_offset = 0.5 * (expert.red.height + expert.blue.height)
    substeps = int(round(1.0 / (env.control_rate_hz * env.physics_dt)))  # one control step, no render
    images, qs, qds, actions = [], [], [], []
    steps = 0
    for steps in range(1, max_steps + 1):
        action = np.asarray(expert.act(obs), dtype=np.float64)
        if record:
            images.append(np.asarray(obs.image, dtype=np.uint8))
            qs.append(np.asarray(obs.q, dtype=np.float64))
            qds.append(np.asarray(obs.qd, dtype=np.float64))
            actions.append(action)
        obs = env.step(action) if record else env.physics_step(action, substeps)
        if stop_on_success and expert.done:
            break
    success = bool(env.success())
    stacked = bool(expert.scene.red_on_blue())
    if record:
        episode = Episode(np.stack(images), np.stack(qs), np.stack(qds), np.stack(actions),
                          list(env.joint_names), INSTRUCTION, success, source="sim_expert",
                          control_rate_hz=20.0, camera=getattr(env, "camera", "basket_front_left"))
    else:
        empty = np.zeros((0, 8))
        episode = Episode(np.zeros((0, 1, 1, 3), np.uint8), empty, empty, empty, list(env.joint_names),
                          INSTRUCTION, success, source="sim_expert")
    return EpisodeResult(episode, seed, steps, success, stacked, str(env.stage()), stack_offset,
                         float(obs.time), time.perf_counter() - start,
                         tuple(getattr(env, "object_names", ()) or ()))


def contact_sheet(images: np.ndarray, path: Path, frames: int = 16, columns: int = 8, scale: int = 3) -> Path:
    """Save `frames` evenly spaced images of an episode as one PNG grid (upscaled `scale` x)."""
    import cv2

    if len(images) == 0:
        raise DemoGenerationError("cannot draw a contact sheet of an empty episode")
    idx = np.linspace(0, len(images) - 1, min(frames, len(images))).round().astype(int)
    tiles = [np.kron(images[i], np.ones((scale, scale, 1), dtype=np.uint8)) for i in idx]
    rows = []
    for r in range(0, len(tiles), columns):
        row = tiles[r:r + columns]
        row += [np.zeros_like(tiles[0])] * (columns - len(row))
        rows.append(np.concatenate(row, axis=1))
    sheet = np.concatenate(rows, axis=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)):
        raise DemoGenerationError(f"could not write {path}")
    return path


def generate_demos(out_dir: str | Path, episodes: int, seed: int = 0, cell: str = "primitive",
                   object_set: str = "rgb_train_random", camera: str = "basket_front_left",
                   image_size: tuple[int, int] = (64, 64), progress: bool = True, max_steps: int = MAX_STEPS,
                   stop_on_success: bool = True, preview: bool = True) -> list[dict]:
    """Write `episodes` expert demos (seeds seed, seed+1, ...) under out_dir; returns per-episode summaries.

    Layout: out_dir/episode_00000/ (rosbag2 MCAP), ..., out_dir/summary.json, out_dir/contact_sheet.png
    (frames of the first episode, when `preview`).
    """
    from tqdm import tqdm

    from gato_ros.demos.bag import write_episode
    from gato_ros.sim.env import StackingEnv
    from gato_ros.sim.expert import ScriptedExpert

    if episodes < 1:
        raise DemoGenerationError(f"episodes must be >= 1, got {episodes}")
    if not 1 <= max_steps <= MAX_STEPS:
        raise DemoGenerationError(f"max_steps must be in [1, {MAX_STEPS}], got {max_steps}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = [f"episode_{i:05d}" for i in range(episodes)]
    existing = [n for n in names if (out / n).exists()]
    if existing:
        raise DemoGenerationError(f"{out} already holds {existing[:3]}...; choose an empty output directory")
    env = StackingEnv(cell=cell, camera=camera, image_size=tuple(image_size), object_set=object_set)
    expert = ScriptedExpert(env, seed=seed)
    summaries: list[dict] = []
    bar = tqdm(total=episodes, desc="expert demos", unit="ep", disable=not progress)
    for i, name in enumerate(names):
        result = rollout(env, expert, seed + i, max_steps=max_steps, stop_on_success=stop_on_success)
        write_episode(out / name, result.episode)
        if preview and i == 0:
            contact_sheet(result.episode.images, out / "contact_sheet.png")
        summaries.append({
            "episode": name, "path": str(out / name), "seed": result.seed, "steps": result.steps,
            "success": result.success, "stacked": result.stacked, "stage": result.stage,
            "objects": list(result.objects),
            "stack_offset_m": round(result.stack_offset, 4), "sim_time_s": round(result.sim_time_s, 3),
            "wall_time_s": round(result.wall_time_s, 3),
        })
        bar.update(1)
        bar.set_postfix(success=f"{sum(s['success'] for s in summaries)}/{len(summaries)}",
                        stacked=f"{sum(s['stacked'] for s in summaries)}/{len(summaries)}")
    bar.close()
    report = {
        "cell": cell, "object_set": object_set, "camera": camera, "image_size": list(image_size),
        "episodes": episodes, "success_rate": float(np.mean([s["success"] for s in summaries])),
        "stacked_rate": float(np.mean([s["stacked"] for s in summaries])),
        "episodes_detail": summaries,
    }
    (out / "summary.json").write_text(json.dumps(report, indent=2))
    return summaries
