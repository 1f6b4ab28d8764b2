"""`gato-ros eval --direct`: roll a model (or the scripted expert) out in-process on StackingEnv, no ROS.

Each episode starts from a held-out seed (HELDOUT_SEED + i for the first object set, + 1000 per further set;
consecutive, never selected) and runs exactly `max_steps` 20 Hz control steps (400 = 20 s): no early stop.
Every command goes through the pure SafetyFilter at its publish rate, as on the robot (gato-ros run: the
agent's command is held by the safety node and re-filtered every 1/publish_rate_hz against fresh joint
states); its interventions are counted by kind.

Success rule: the episode succeeds if StackingEnv.success() is true at some control step and stays true for
the following SUCCESS_HOLD_STEPS - 1 steps (10 consecutive steps, 0.5 s), or is true at the last step. The
furthest stage is the highest of StackingEnv.stage() over all control steps (none < reached < grasped <
lifted < stacked). Rates come with 95 % Wilson intervals (gato_ros.eval.stats.wilson_interval).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gato_ros.eval.stages import STAGES, best_stage, stage_rank
from gato_ros.eval.stats import format_rate, wilson_interval

HELDOUT_SEED = 100_000  # the same first seed as gato_ros.eval.graph_eval (demos use seeds below it)
MAX_STEPS = 400
SUCCESS_HOLD_STEPS = 10
SET_SEED_STRIDE = 1000  # object set k starts at seed + 1000 k (as the graph eval)


@dataclass(frozen=True)
class DirectConfig:
    model_dir: Path | None = None  # None with expert=True
    expert: bool = False
    episodes: int = 10
    object_sets: tuple[str, ...] = ("rgb_train_random",)
    seed: int = HELDOUT_SEED
    cell: str = "primitive"
    max_steps: int = MAX_STEPS
    workers: int | None = None  # None: os.cpu_count()
    prompt_demo: Path | None = None
    instruction: str = "stack the red object on the blue object"
    out_dir: Path = Path("eval_results/direct")
    progress: bool = True
    randomization: str = ""  # preset or YAML file (gato_ros.sim.randomization); drawn per episode seed
    command_latency_s: float = 0.0  # observation -> safety filter delay of each command (control_steps)

    def __post_init__(self) -> None:
        if self.expert == (self.model_dir is not None):
            raise ValueError("give exactly one of a model directory and --expert")
        if self.episodes < 1 or not 1 <= self.max_steps <= MAX_STEPS:
            raise ValueError(f"episodes must be >= 1 and max_steps in [1, {MAX_STEPS}]")
        if len(self.object_sets) > 1 and self.episodes > SET_SEED_STRIDE:
            raise ValueError(f"at most {SET_SEED_STRIDE} episodes per object set (their seeds would overlap)")
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        if not 0.0 <= self.command_latency_s <= 1.0:
            raise ValueError(f"command latency must be in [0, 1] s, got {self.command_latency_s}")
        if self.randomization:
            from gato_ros.sim.randomization import load

            load(self.randomization)  # RandomizationError (a ValueError) names the bad preset or file


@dataclass
class DirectEpisode:
    object_set: str
    seed: int
    success: bool
    success_step: int | None  # first step of the held success (or the last step), None on failure
    success_at_end: bool
    best_stage: str
    steps: int
    interventions: dict[str, int]
    wall_time_s: float
    act_ms_mean: float


def held_success(flags: list[bool], hold: int = SUCCESS_HOLD_STEPS) -> int | None:
    """The first step from which `flags` stays true for `hold` steps, else the last step if it is true, else None."""
    run = 0
    for i, ok in enumerate(flags):
        run = run + 1 if ok else 0
        if run == hold:
            return i - hold + 1
    if flags and flags[-1]:
        return len(flags) - run
    return None


# ----------------------------------------------------------------------------------------------- worker

_W: dict[str, Any] = {}


def _init(cfg: DirectConfig) -> None:
    """Per worker process: the policy (ONNX Runtime with one intra-op thread) and the safety filter config."""
    from gato_ros import paths
    from gato_ros.nodes.common import config_from_params_file
    from gato_ros.safety import SafetyConfig

    _W.clear()
    _W["cfg"] = cfg
    _W["safety"] = config_from_params_file(SafetyConfig, paths.config_dir() / "safety.yaml", "safety")
    _W["envs"] = {}
    if not cfg.expert:
        from gato_ros.runtime import GatoPolicy

        policy = GatoPolicy(cfg.model_dir, provider="cpu", threads=1)
        if cfg.prompt_demo is not None:
            from gato_ros.demos.bag import read_episode

            policy.set_prompt(read_episode(cfg.prompt_demo))
        _W["policy"] = policy


def _env(object_set: str) -> Any:
    from gato_ros.sim.env import StackingEnv

    cfg: DirectConfig = _W["cfg"]
    if object_set not in _W["envs"]:
        kwargs: dict[str, Any] = {}
        if "policy" in _W:
            tok = _W["policy"].config.tokenizer
            kwargs = {"camera": tok.camera, "image_size": (tok.image_height, tok.image_width),
                      "object_frame": tok.object_frame}  # the object poses the model was trained on
        _W["envs"][object_set] = StackingEnv(cell=cfg.cell, object_set=object_set,
                                             randomization=cfg.randomization or None, **kwargs)
    return _W["envs"][object_set]


def control_steps(env: Any, obs: Any, act: Any, safety: Any, max_steps: int, render: bool,
                  command_latency_s: float = 0.0) -> Any:
    """Drive `env` for `max_steps` control steps: efforts = act(obs), held by the SafetyFilter and re-filtered at its
    publish rate against fresh joint states, as on the robot. With `command_latency_s` each command reaches the
    filter that long after its observation (rounded to its publish ticks; the previous command holds meanwhile), the
    graph's observation-to-output delay. Yields (obs acted on, efforts) after each step."""
    pub_dt = 1.0 / safety.config.publish_rate_hz
    ticks = max(1, round(1.0 / env.control_rate_hz / pub_dt))
    substeps = max(1, round(pub_dt / env.physics_dt))
    delay = max(0, round(command_latency_s / pub_dt))
    pending: list[tuple[int, np.ndarray]] = []  # (tick it reaches the filter, efforts)
    tick = 0
    for _ in range(max_steps):
        efforts = np.asarray(act(obs), dtype=np.float64)
        pending.append((tick + delay, efforts))
        for _k in range(ticks):
            tk = tick * pub_dt
            while pending and pending[0][0] <= tick:
                safety.command(pending.pop(0)[1], tk)
            safety.joint_state(obs.q, obs.qd, tk)
            out, _, _ = safety.output(tk)
            env.physics_step(out, substeps)
            tick += 1
        yield obs, efforts
        obs = env.observe(render=render)


def start_episode(object_set: str, seed: int) -> tuple[Any, Any, Any, Any, bool]:
    """In a worker (after _init): (env, first obs, act function, fresh SafetyFilter, whether images are needed)
    for the policy (or the expert) on `seed`."""
    from gato_ros.agent import ModelInputs
    from gato_ros.observation import proprio_from_joints
    from gato_ros.safety import SafetyFilter

    cfg: DirectConfig = _W["cfg"]
    env = _env(object_set)
    safety = SafetyFilter(env.robot, _W["safety"])
    safety.reset()  # what the runner's ~/reset does before an episode (safe start)
    policy = _W.get("policy")
    inputs = ModelInputs.of(policy.config.tokenizer) if policy is not None else ModelInputs(image=False)
    obs = env.reset(seed=seed)
    if policy is not None:
        policy.reset()
        act = lambda o: policy.act(o.image if inputs.image else None, proprio_from_joints(o.q, o.qd),  # noqa: E731
                                   cfg.instruction or None,
                                   **({"objects": env.object_state()} if inputs.objects else {}),
                                   **({"extents": env.object_extents()} if inputs.extents else {}))
    else:
        from gato_ros.sim.expert import ScriptedExpert

        expert = ScriptedExpert(env, seed)
        expert.reset(obs)
        act = expert.act
    return env, obs, act, safety, inputs.image


def run_episode(object_set: str, seed: int) -> DirectEpisode:
    """One episode in this process (after _init): policy or expert -> SafetyFilter -> StackingEnv."""
    cfg: DirectConfig = _W["cfg"]
    start = time.perf_counter()
    env, obs, act, safety, render = start_episode(object_set, seed)
    act_s = 0.0

    def timed(o: Any) -> np.ndarray:
        nonlocal act_s
        a0 = time.perf_counter()
        efforts = act(o)
        act_s += time.perf_counter() - a0
        return efforts

    flags: list[bool] = []
    stages: list[str] = []
    for _ in control_steps(env, obs, timed, safety, cfg.max_steps, render, cfg.command_latency_s):
        flags.append(bool(env.success()))
        stages.append(str(env.stage()))
    step = held_success(flags)
    counts = {k: int(v) for k, v in sorted(safety.counts.items()) if v}
    return DirectEpisode(object_set, seed, step is not None, step, flags[-1],
                         "stacked" if step is not None else best_stage(stages), len(flags), counts,
                         round(time.perf_counter() - start, 3), round(1e3 * act_s / len(flags), 3))


def _task(object_set: str, seed: int) -> dict:
    return asdict(run_episode(object_set, seed))


# ----------------------------------------------------------------------------------------------- driver


def summarize(episodes: list[DirectEpisode]) -> dict:
    """Success and stage rates (share of episodes whose furthest stage is at least that one) with 95 % Wilson
    intervals, and the safety interventions summed by kind."""
    n = len(episodes)
    k = sum(e.success for e in episodes)
    ranks = [stage_rank(e.best_stage) for e in episodes]
    stages = {}
    for i, s in enumerate(STAGES):
        if s == "none":
            continue
        c = sum(r >= i for r in ranks)
        stages[s] = {"count": c, "rate": c / n, "ci95": wilson_interval(c, n)}
    total: Counter[str] = Counter()
    for e in episodes:
        total.update(e.interventions)
    return {"episodes": n, "successes": k, "success_rate": k / n, "success_ci95": wilson_interval(k, n),
            "success_at_end": sum(e.success_at_end for e in episodes), "stages": stages,
            "furthest_stage_counts": {s: sum(e.best_stage == s for e in episodes) for s in STAGES},
            "safety_counts": dict(sorted(total.items())),
            "safety_interventions": sum(v for key, v in total.items() if key not in ("hold_ticks", "reset"))}


def evaluate_direct(cfg: DirectConfig) -> dict:
    """Run every (object set, seed) episode in worker processes; write results.json and results.png."""
    from tqdm import tqdm

    tasks = [(s, cfg.seed + SET_SEED_STRIDE * k + i)
             for k, s in enumerate(cfg.object_sets) for i in range(cfg.episodes)]
    workers = min(cfg.workers or os.cpu_count() or 1, len(tasks))
    cfg.out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    rows: list[dict] = []
    bar = tqdm(total=len(tasks), desc="direct eval", unit="ep", disable=not cfg.progress)

    def done(row: dict) -> None:
        rows.append(row)
        bar.update(1)
        bar.set_postfix(success=f"{sum(r['success'] for r in rows)}/{len(rows)}")

    if workers == 1:
        _init(cfg)
        for s, seed in tasks:
            done(_task(s, seed))
    else:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init, initargs=(cfg,)) as pool:
            futures = [pool.submit(_task, s, seed) for s, seed in tasks]
            for f in as_completed(futures):
                done(f.result())
    bar.close()
    rows.sort(key=lambda r: (cfg.object_sets.index(r["object_set"]), r["seed"]))
    episodes = [DirectEpisode(**r) for r in rows]
    out = {
        "mode": "direct", "policy": "scripted_expert" if cfg.expert else str(cfg.model_dir),
        "prompt_demo": str(cfg.prompt_demo) if cfg.prompt_demo else None, "cell": cfg.cell,
        "randomization": cfg.randomization or "none", "command_latency_s": cfg.command_latency_s,
        "first_seed": cfg.seed, "max_steps": cfg.max_steps, "control_rate_hz": 20.0,
        "success_rule": f"success() true for {SUCCESS_HOLD_STEPS} consecutive control steps, or at the last step; "
                        f"every episode runs all max_steps steps",
        "workers": workers, "wall_time_s": round(time.perf_counter() - start, 2),
        "overall": summarize(episodes),
        "object_sets": {s: summarize([e for e in episodes if e.object_set == s]) for s in cfg.object_sets},
        "episodes_detail": rows,
    }
    (cfg.out_dir / "results.json").write_text(json.dumps(out, indent=2))
    plot(out, cfg.out_dir / "results.png")
    return out


def report_lines(out: dict) -> list[str]:
    o = out["overall"]
    lines = [f"{out['policy']}: {o['episodes']} episodes of {out['max_steps']} steps, {out['wall_time_s']} s wall "
             f"({out['workers']} workers); rates with 95% Wilson intervals",
             f"  success {format_rate(o['successes'], o['episodes'])}"]
    lines += [f"  {s:>8} {format_rate(v['count'], o['episodes'])}" for s, v in o["stages"].items()]
    lines.append(f"  safety: {o['safety_interventions']} interventions {o['safety_counts']}")
    return lines


def plot(out: dict, path: Path) -> None:
    """Stage rates with 95 % Wilson error bars, per object set."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = list(out["object_sets"])
    labels = ["success"] + [s for s in STAGES if s != "none"]
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(sets) + 3), 4))
    width = 0.8 / len(labels)
    for j, label in enumerate(labels):
        rates, lo, hi = [], [], []
        for s in sets:
            r = out["object_sets"][s]
            rate, ci = (r["success_rate"], r["success_ci95"]) if label == "success" else \
                (r["stages"][label]["rate"], r["stages"][label]["ci95"])
            rates.append(rate)
            lo.append(rate - ci[0])
            hi.append(ci[1] - rate)
        ax.bar([i + j * width for i in range(len(sets))], rates, width, yerr=[lo, hi], capsize=3, label=label)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(sets))])
    ax.set_xticklabels([s.replace("rgb_", "") for s in sets], fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of episodes (95% Wilson)")
    ax.legend(fontsize=8)
    ax.set_title(f"direct eval: {Path(out['policy']).name}, {out['overall']['episodes']} episodes")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
