"""Expert demonstrations in the MuJoCo cell, one rosbag2 (MCAP) directory per episode.

Each episode runs the scripted expert for at most `max_steps` 20 Hz control steps. With `stop_on_success`
(default) it ends early once the expert is done: red released resting on blue and the arm retreated;
otherwise (or if the expert never finishes) it runs to `max_steps`. The bag's outcome is the benchmark's
success test at the last step (StackingEnv.success); the summary also reports `stacked` (red resting
on blue), which does not depend on the objects' heights. Row t of the written Episode is the observation
at step t (image, joints and the object poses StackingEnv.object_state), the effort command the expert
sent at step t and the Cartesian command behind it (ScriptedExpert.command; the bag contract of
`gato_ros.demos.bag`).

With `noise` > 0 the executed arm command is the expert's Cartesian command plus correlated Gaussian noise
(CommandNoise; DART, Laskey et al. 2017, "DART: Noise Injection for Robust Imitation Learning"), while the bag
records the expert's clean command and effort for the state it sees: the demos then show the expert recovering
from drifts like a learner's, on states next to its own path, and every label stays the expert's.

Generation runs episodes in `workers` processes and is resumable: episode i (seed `seed + i`) is written
to a hidden temporary directory and renamed to `episode_NNNNN` only when complete, after its summary row
(`.generate/episode_NNNNN.json`); a rerun with the same settings skips every complete episode and
regenerates the rest. summary.json is merged from the rows at the end.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gato_ros.episode import Episode
from gato_ros.interfaces import CARTESIAN_MAX_STEP, CARTESIAN_MAX_TURN, OBJECT_FRAMES
from gato_ros.robot.registry import DEFAULT_ROBOT

INSTRUCTION = "stack the red object on the blue object"
MAX_STEPS = 400
STATE_DIR = ".generate"  # per-episode summary rows and the settings of the run (resume checks them)


class DemoGenerationError(RuntimeError):
    """Demo generation cannot run with the given arguments (bad counts, existing episode directories)."""


class CommandNoise:
    """AR(1) Gaussian noise on the arm part of a Cartesian command: per-axis std `scale` x the per-step bounds
    (CARTESIAN_MAX_STEP m, CARTESIAN_MAX_TURN rad), step-to-step correlation `correlation` (a drift lasting about
    1 / (1 - correlation) steps, the way a learner's errors persist); seeded per episode, so reruns are identical."""

    def __init__(self, scale: float, correlation: float, seed: int) -> None:
        if scale < 0 or not 0.0 <= correlation < 1.0:
            raise DemoGenerationError(f"noise needs scale >= 0 and 0 <= correlation < 1, got {scale}, {correlation}")
        self.bound = np.repeat([CARTESIAN_MAX_STEP, CARTESIAN_MAX_TURN], 3)
        self.std = scale * self.bound
        self.correlation = correlation
        self.rng = np.random.default_rng(seed)
        self.state = self.rng.standard_normal(6)

    def __call__(self, command: np.ndarray) -> np.ndarray:
        """`command` [7] with this step's noise added to its move and turn, clipped to the per-step bounds."""
        c = self.correlation
        self.state = c * self.state + np.sqrt(1.0 - c * c) * self.rng.standard_normal(6)
        return np.concatenate([np.clip(command[:6] + self.std * self.state, -self.bound, self.bound), command[6:]])


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
            record: bool = True, noise: float = 0.0, noise_correlation: float = 0.9,
            noise_phases: tuple[str, ...] = ()) -> EpisodeResult:
    """Run the expert for one episode of `env` from `seed`; arrays (and images) are kept only when `record`.
    `noise` > 0 executes the expert's command perturbed by CommandNoise(noise, noise_correlation, seed) and records
    the clean one; with `noise_phases` (expert Phase values) only on steps the expert spends in those phases."""
    start = time.perf_counter()
    obs = env.reset(seed=seed)
    expert.reset(obs)
    stack_offset = 0.5 * (expert.red.height + expert.blue.height)
    substeps = int(round(1.0 / (env.control_rate_hz * env.physics_dt)))  # one control step, no render
    images, qs, qds, actions, objects, commands, extents = [], [], [], [], [], [], []
    perturb = CommandNoise(noise, noise_correlation, seed) if noise > 0 else None
    steps = 0
    for steps in range(1, max_steps + 1):
        action = np.asarray(expert.act(obs), dtype=np.float64)
        executed = action
        if perturb is not None:
            noisy = perturb(np.asarray(expert.last_command, dtype=np.float64))  # advances the noise every step
            if not noise_phases or expert.phase.value in noise_phases:  # else the expert's own torques run
                q, qd = np.asarray(obs.q, dtype=np.float64)[:7], np.asarray(obs.qd, dtype=np.float64)[:7]
                executed = np.concatenate([expert.controller.lead_torques(q, qd, noisy[:6]), noisy[6:]])
        if record:
            images.append(np.asarray(obs.image, dtype=np.uint8))
            qs.append(np.asarray(obs.q, dtype=np.float64))
            qds.append(np.asarray(obs.qd, dtype=np.float64))
            actions.append(action)
            commands.append(np.asarray(expert.last_command, dtype=np.float64))
            objects.append(np.asarray(env.object_state(), dtype=np.float64))
            extents.append(np.asarray(env.object_extents(), dtype=np.float64))
        obs = env.step(executed) if record else env.physics_step(executed, substeps)
        if stop_on_success and expert.done:
            break
    success = bool(env.success())
    stacked = bool(expert.scene.red_on_blue())
    if record:
        episode = Episode(np.stack(images), np.stack(qs), np.stack(qds), np.stack(actions),
                          list(env.joint_names), INSTRUCTION, success, source="sim_expert",
                          control_rate_hz=20.0, camera=getattr(env, "camera", "basket_front_left"),
                          object_state=np.stack(objects), cartesian_commands=np.stack(commands),
                          object_frame=env.object_frame, object_extents=np.stack(extents))
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


def episode_name(index: int) -> str:
    return f"episode_{index:05d}"


def _summary_row(name: str, path: Path, result: EpisodeResult) -> dict:
    return {
        "episode": name, "path": str(path), "seed": result.seed, "steps": result.steps,
        "success": result.success, "stacked": result.stacked, "stage": result.stage,
        "objects": list(result.objects),
        "stack_offset_m": round(result.stack_offset, 4), "sim_time_s": round(result.sim_time_s, 3),
        "wall_time_s": round(result.wall_time_s, 3), "object_state": result.episode.object_state is not None,
    }


_WORKER: dict[str, Any] = {}


def _worker_init(settings: dict) -> None:
    """Per process: one StackingEnv and one expert, reused for every episode this process runs."""
    from gato_ros.sim.env import StackingEnv
    from gato_ros.sim.expert import ScriptedExpert

    env = StackingEnv(cell=settings["cell"], camera=settings["camera"], image_size=tuple(settings["image_size"]),
                      object_set=settings["object_set"], randomization=settings.get("randomization") or None,
                      robot=settings.get("robot", DEFAULT_ROBOT), object_frame=settings.get("object_frame", "body"))
    _WORKER.update(env=env, expert=ScriptedExpert(env, seed=settings["seed"]), settings=settings)


def _worker_episode(out: str, index: int, preview: bool) -> dict:
    """Roll out episode `index`, write its summary row, then its bag (atomically renamed into place)."""
    from gato_ros.demos.bag import write_episode

    settings = _WORKER["settings"]
    out_dir, name = Path(out), episode_name(index)
    result = rollout(_WORKER["env"], _WORKER["expert"], settings["seed"] + index, max_steps=settings["max_steps"],
                     stop_on_success=settings["stop_on_success"], noise=settings.get("noise", 0.0),
                     noise_correlation=settings.get("noise_correlation", 0.9),
                     noise_phases=tuple(settings.get("noise_phases", ())))
    tmp = out_dir / f".{name}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    write_episode(tmp, result.episode)
    mcap = tmp / f"{tmp.name}.mcap"
    if mcap.exists():  # name the storage file after the final directory (as replace_bag does)
        from gato_ros.demos.bag import _fix_file_paths

        mcap.rename(tmp / f"{name}.mcap")
        _fix_file_paths(tmp, name)
    row = _summary_row(name, out_dir / name, result)
    (out_dir / STATE_DIR / f"{name}.json").write_text(json.dumps(row))
    tmp.rename(out_dir / name)  # the episode is complete from here on
    if preview and index == 0:
        contact_sheet(result.episode.images, out_dir / "contact_sheet.png")
    return row


def _existing_row(out: Path, name: str, old_summary: dict) -> dict:
    """The summary row of a complete episode from an earlier run (its row file, the old summary.json, or the bag)."""
    row_file = out / STATE_DIR / f"{name}.json"
    if row_file.is_file():
        return json.loads(row_file.read_text())
    for row in old_summary.get("episodes_detail", []):
        if row.get("episode") == name:
            return row
    from gato_ros.demos.bag import read_episode

    ep = read_episode(out / name)
    return {"episode": name, "path": str(out / name), "steps": len(ep), "success": bool(ep.success),
            "object_state": ep.object_state is not None}


def _check_settings(out: Path, settings: dict, complete: list[str], old_summary: dict) -> None:
    """Refuse to resume a directory written with other settings (that would mix two data sets)."""
    state = out / STATE_DIR / "settings.json"
    keys = set(settings)
    if state.is_file():  # optional settings (noise, object_frame) are absent at their defaults: compare all keys
        before = json.loads(state.read_text())
        keys |= set(before)
    elif complete and old_summary:  # written by the generator before it was resumable
        before = {k: old_summary[k] for k in ("cell", "object_set", "camera", "image_size") if k in old_summary}
        keys = set(before)
    elif complete:
        raise DemoGenerationError(f"{out} already holds {complete[:3]}... not written by `demos generate` "
                                  f"(no {STATE_DIR}/settings.json or summary.json); choose an empty output directory")
    else:
        return  # a fresh directory
    before.setdefault("robot", "sawyer")  # written before the robot registry: Sawyer demos
    differ = {k: (before.get(k), settings.get(k)) for k in sorted(keys) if before.get(k) != settings.get(k)}
    if differ:
        raise DemoGenerationError(f"{out} was generated with other settings {differ} (before, now); resume with the "
                                  f"same settings or choose another output directory")


def generate_demos(out_dir: str | Path, episodes: int, seed: int = 0, cell: str = "primitive",
                   object_set: str = "rgb_train_random", camera: str = "basket_front_left",
                   image_size: tuple[int, int] = (64, 64), progress: bool = True, max_steps: int = MAX_STEPS,
                   stop_on_success: bool = True, preview: bool = True, workers: int | None = None,
                   randomization: str = "", robot: str = DEFAULT_ROBOT, noise: float = 0.0,
                   noise_correlation: float = 0.9, noise_phases: tuple[str, ...] = (),
                   object_frame: str = "body") -> list[dict]:
    """Write `episodes` expert demos (seeds seed, seed+1, ...) of registry arm `robot` under out_dir; returns
    per-episode summaries.

    Layout: out_dir/episode_00000/ (rosbag2 MCAP), ..., out_dir/summary.json, out_dir/contact_sheet.png
    (frames of the first episode, when `preview`), out_dir/.generate/ (per-episode rows, settings).
    `randomization` (a preset or YAML file, gato_ros.sim.randomization; empty = none) is drawn per episode seed;
    `noise` > 0 perturbs the executed command (CommandNoise, module docstring) and records the clean one, in every
    step or only in the expert phases `noise_phases` (gato_ros.sim.expert.Phase values). `object_frame` says which
    frame of each object the recorded poses are of (interfaces.OBJECT_FRAMES; a model trains on one).
    Episodes already complete in out_dir are skipped; `workers` processes (default os.cpu_count(); 1 = in this
    process) run the rest.
    """
    from tqdm import tqdm

    if episodes < 1:
        raise DemoGenerationError(f"episodes must be >= 1, got {episodes}")
    if not 1 <= max_steps <= MAX_STEPS:
        raise DemoGenerationError(f"max_steps must be in [1, {MAX_STEPS}], got {max_steps}")
    if randomization:
        from gato_ros.sim.randomization import load

        load(randomization)  # a bad preset or file fails here, before any worker starts
    CommandNoise(noise, noise_correlation, seed)  # bad noise settings fail here
    from gato_ros.sim.expert import Phase

    unknown = sorted(set(noise_phases) - {p.value for p in Phase})
    if unknown:
        raise DemoGenerationError(f"unknown noise phases {unknown}; phases are {[p.value for p in Phase]}")
    if object_frame not in OBJECT_FRAMES:
        raise DemoGenerationError(f"unknown object_frame {object_frame!r}; choose one of {OBJECT_FRAMES}")
    workers = (os.cpu_count() or 1) if workers is None else workers
    if workers < 1:
        raise DemoGenerationError(f"workers must be >= 1, got {workers}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    settings = {"seed": seed, "cell": cell, "object_set": object_set, "camera": camera,
                "image_size": [int(x) for x in image_size], "max_steps": max_steps,
                "stop_on_success": stop_on_success, "robot": robot,
                **({"randomization": randomization} if randomization else {}),
                **({"noise": noise, "noise_correlation": noise_correlation} if noise > 0 else {}),
                **({"noise_phases": sorted(noise_phases)} if noise > 0 and noise_phases else {}),
                **({"object_frame": object_frame} if object_frame != "body" else {})}
    names = [episode_name(i) for i in range(episodes)]
    complete = [n for n in names if (out / n / "metadata.yaml").is_file()]
    broken = [n for n in names if (out / n).exists() and n not in complete]
    if broken:
        raise DemoGenerationError(f"{out} holds incomplete episode directories {broken[:3]} (not written by this "
                                  f"generator, which renames complete episodes into place); remove them first")
    old_summary_path = out / "summary.json"
    old_summary = json.loads(old_summary_path.read_text()) if old_summary_path.is_file() else {}
    _check_settings(out, settings, complete, old_summary)
    (out / STATE_DIR).mkdir(exist_ok=True)
    (out / STATE_DIR / "settings.json").write_text(json.dumps(settings))
    for stale in out.glob(".episode_*.partial"):  # an interrupted run's unfinished episodes
        shutil.rmtree(stale, ignore_errors=True)
    rows = {n: _existing_row(out, n, old_summary) for n in complete}
    todo = [i for i, n in enumerate(names) if n not in rows]
    want_preview = preview and not (out / "contact_sheet.png").exists()

    bar = tqdm(total=episodes, initial=len(rows), desc="expert demos", unit="ep", disable=not progress)

    def done(row: dict) -> None:
        rows[row["episode"]] = row
        bar.update(1)
        bar.set_postfix(success=f"{sum(bool(r.get('success')) for r in rows.values())}/{len(rows)}")

    if todo and (workers == 1 or len(todo) == 1):
        _worker_init(settings)
        try:
            for i in todo:
                done(_worker_episode(str(out), i, want_preview))
        finally:
            _WORKER.pop("env").close()
            _WORKER.clear()
    elif todo:
        ctx = multiprocessing.get_context("spawn")  # no forked MuJoCo/EGL state
        with ProcessPoolExecutor(min(workers, len(todo)), mp_context=ctx, initializer=_worker_init,
                                 initargs=(settings,)) as pool:
            futures = [pool.submit(_worker_episode, str(out), i, want_preview) for i in todo]
            try:
                for future in as_completed(futures):
                    done(future.result())
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
    bar.close()
    summaries = [rows[n] for n in names]
    extra = sorted(p.name for p in out.glob("episode_*") if p.is_dir() and p.name not in rows)
    report = {
        "cell": cell, "robot": robot, "object_set": object_set, "camera": camera, "image_size": list(image_size),
        "seed": seed, "max_steps": max_steps, "stop_on_success": stop_on_success,
        "randomization": randomization or "none", "noise": noise,
        **({"noise_correlation": noise_correlation, "noise_phases": sorted(noise_phases) or "all"} if noise > 0
           else {}),
        "episodes": episodes, "success_rate": float(np.mean([bool(s.get("success")) for s in summaries])),
        "stacked_rate": float(np.mean([bool(s.get("stacked", s.get("success"))) for s in summaries])),
        "resumed": len(complete), "other_episode_dirs": extra,
        "episodes_detail": summaries,
    }
    tmp = out / ".summary.json.tmp"
    tmp.write_text(json.dumps(report, indent=2))
    tmp.replace(out / "summary.json")
    return summaries
