"""`gato-ros bench --graph`: image stamp -> safety output latency in the running graph (sim + safety + agent).

Runs the stacking graph (gato_ros.launch_runner, the same processes as the launch file) once per agent trigger
(image, timer) and safety `wake_on_command` setting (back to back), reads the safety node's /safety/output_latency
samples (one per stamped command that reached its output) and writes p50/p99 with the agent's step time and
overruns to graph_latency.json, and a plot.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import yaml

from gato_ros.agent.config import TRIGGERS
from gato_ros.bench.latency import machine, percentiles
from gato_ros.launch_runner.runner import Runner, RunOptions

#: The issue's target: image stamp -> safety output, p99, default model, sim running.
TARGET_P99_MS = 30.0


@dataclass(frozen=True)
class GraphBenchOptions:
    """What to run: model (empty: models/default), seconds measured per trigger, warm-up and episode length."""

    model_dir: str = ""
    triggers: tuple[str, ...] = TRIGGERS
    seconds: float = 45.0
    warmup_s: float = 5.0
    episode_s: float = 20.0
    out_dir: Path = Path("benchmarks/results")
    wake_on_command: tuple[bool, ...] = (True,)  # the safety node's settings to measure, in this order per trigger


def run_key(trigger: str, wake_on_command: bool) -> str:
    """The run's key in graph_latency.json: the trigger for the shipped safety setting (wake on), else `_wake_off`."""
    return trigger if wake_on_command else f"{trigger}_wake_off"


class LatencyRunner(Runner):
    """The graph runner, recording the safety node's latency samples while episodes run back to back for
    warm-up + `seconds` (each episode ends at success or after `episode_s`): a model that stacks in a few seconds
    still gives the full measuring time."""

    def __init__(self, values: dict[str, str], options: RunOptions, warmup_s: float, seconds: float,
                 episode_s: float) -> None:
        super().__init__(values, options)
        self.warmup_s, self.seconds, self.episode_s = warmup_s, seconds, episode_s
        self.samples: list[tuple[int, int]] = []
        self.measure_from_ns = 0

    def _drive(self, monitor) -> None:  # noqa: ANN001 - GraphMonitor
        self.samples = monitor.record_output_latency()
        self.measure_from_ns = time.time_ns() + int(self.warmup_s * 1e9)
        end = time.monotonic() + self.warmup_s + self.seconds
        while not self.stop_event.is_set() and end - time.monotonic() > 0.5:
            self.options = replace(self.options, duration_s=min(self.episode_s, end - time.monotonic()))
            self._episode(monitor, len(self.summary.episodes))


def _config_dir(folder: Path, trigger: str, wake_on_command: bool) -> Path:
    """A copy of the parameter files with the agent's trigger and the safety node's wake_on_command replaced."""
    from gato_ros import paths

    shutil.copytree(paths.config_dir(), folder, dirs_exist_ok=True)
    for name, node, key, value in (("agent.yaml", "agent", "trigger", trigger),
                                   ("safety.yaml", "safety", "wake_on_command", wake_on_command)):
        data = yaml.safe_load((folder / name).read_text())
        data[node]["ros__parameters"][key] = value
        (folder / name).write_text(yaml.safe_dump(data))
    return folder


def _number(values: dict[str, str], key: str) -> float | None:
    try:
        return float(values[key])
    except (KeyError, ValueError):
        return None


def run_trigger(trigger: str, opts: GraphBenchOptions, folder: Path, log: Callable[[str], None],
                wake_on_command: bool = True) -> dict[str, Any]:
    """One graph run with the agent's `trigger` and the safety node's `wake_on_command`; the measured latencies and
    what the nodes reported."""
    key = run_key(trigger, wake_on_command)
    options = RunOptions(episodes=1, duration_s=opts.episode_s,  # LatencyRunner runs episodes until the time is up
                         config_dir=_config_dir(folder / key, trigger, wake_on_command),
                         log_dir=opts.out_dir / "graph_latency_logs" / key)
    runner = LatencyRunner({"sim": "true", "model": opts.model_dir}, options, opts.warmup_s, opts.seconds,
                           opts.episode_s)
    load_start = os.getloadavg()[0]
    summary = runner.run()
    if summary.early_exits:
        raise RuntimeError(f"nodes exited early: {summary.early_exits} (logs in {options.log_dir})")
    kept = [(out - ref) * 1e-9 for out, ref in list(runner.samples) if out >= runner.measure_from_ns]
    if not kept:
        raise RuntimeError(f"no latency samples with trigger {trigger}: did the agent act? agent: "
                           f"{summary.agent.get('_message')}; safety: {summary.safety.get('_message')}")
    stats = percentiles(kept)
    agent, safety = summary.agent, summary.safety
    record = {
        "trigger": trigger, "safety_wake_on_command": wake_on_command, "image_to_output": stats,
        "samples_ms": [round(1e3 * x, 3) for x in kept],
        "measured_s": opts.seconds, "episodes": len(summary.episodes),
        "successes": sum(e.success for e in summary.episodes), "load_average_1min": [load_start, os.getloadavg()[0]],
        "agent": {k: _number(agent, k) for k in ("tick_p50_ms", "tick_p99_ms", "tick_deadline_misses", "published",
                                                  "overruns", "frames_dropped", "skipped", "image_to_command_p50_ms",
                                                  "image_to_command_p99_ms", "context_tokens")},
        "agent_provider": agent.get("provider"), "agent_model": agent.get("model"),
        "safety": {k: _number(safety, k) for k in ("image_to_output_p50_ms", "image_to_output_p99_ms",
                                                    "image_to_output_count", "image_to_output_other_clock",
                                                    "late_ticks", "woken_ticks", "publish_rate_hz",
                                                    "interventions")},
    }
    log(f"[bench] trigger {trigger}, safety wake_on_command {str(wake_on_command).lower()}: image -> safety output "
        f"p50 {stats['p50_ms']:.1f} ms, p99 {stats['p99_ms']:.1f} ms (n={stats['n']}); agent step p50 "
        f"{agent.get('tick_p50_ms')} ms, overruns {agent.get('overruns')}; woken ticks {safety.get('woken_ticks')}")
    return record


def run_graph_bench(opts: GraphBenchOptions, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Measure every trigger; write graph_latency.json and graph_latency.png under opts.out_dir."""
    unknown = sorted(set(opts.triggers) - set(TRIGGERS))
    if unknown or not opts.triggers:
        raise ValueError(f"triggers must be a non-empty subset of {TRIGGERS}, got {list(opts.triggers)}")
    if not opts.wake_on_command or len(set(opts.wake_on_command)) != len(opts.wake_on_command):
        raise ValueError(f"wake_on_command must be one or both of true, false, got {list(opts.wake_on_command)}")
    opts.out_dir.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "definition": "image header.stamp (sim, system clock, stamped after rendering) -> the safety node publishing "
                      "the first /effort_controller/commands computed from the command answering that image "
                      "(its /safety/output_latency samples); warm-up samples dropped. Runs are keyed by trigger for "
                      "the shipped safety setting (wake_on_command true), `<trigger>_wake_off` for the fixed 100 Hz "
                      "grid (wake_on_command false)",
        "target_p99_ms": TARGET_P99_MS, "machine": machine(), "runs": {},
    }
    with tempfile.TemporaryDirectory(prefix="gato_graph_bench_") as tmp:
        for trigger in opts.triggers:
            for wake in opts.wake_on_command:
                results["runs"][run_key(trigger, wake)] = run_trigger(trigger, opts, Path(tmp), log, wake)
    (opts.out_dir / "graph_latency.json").write_text(json.dumps(results, indent=2))
    plot(results, opts.out_dir / "graph_latency.png")
    return results


def plot(results: dict[str, Any], path: Path) -> None:
    """Latency histogram per trigger, p99 and the target as vertical lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    runs = results["runs"]
    hi = max(max(r["samples_ms"]) for r in runs.values())
    bins = np.linspace(0, max(hi * 1.05, TARGET_P99_MS * 1.2), 80)
    for i, (key, r) in enumerate(runs.items()):
        s = r["image_to_output"]
        wake = {True: ", safety wakes on command", False: ", safety fixed grid"}.get(
            r.get("safety_wake_on_command"), "")
        ax.hist(r["samples_ms"], bins=bins, histtype="step", color=f"C{i}",
                label=f"trigger {r['trigger']}{wake}: p50 {s['p50_ms']:.1f}, p99 {s['p99_ms']:.1f} ms (n={s['n']})")
        ax.axvline(s["p99_ms"], color=f"C{i}", ls="--", lw=0.8)
    ax.axvline(TARGET_P99_MS, color="red", lw=0.8, label=f"target p99 {TARGET_P99_MS:.0f} ms")
    ax.set_xlabel("image stamp -> safety output (ms)")
    ax.set_ylabel("commands")
    ax.set_title("latency in the graph (sim + safety + agent, default model)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def summary_table(results: dict[str, Any]) -> str:
    """Markdown table: per run (trigger, safety wake), image -> output p50/p99, agent step p50/p99, overruns."""
    lines = ["| trigger | safety wake_on_command | image -> safety output p50 ms | p99 ms | max ms | n | "
             "agent step p50 / p99 ms | overruns |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results["runs"].values():
        s, a = r["image_to_output"], r["agent"]
        samples = r["samples_ms"]
        wake = str(r.get("safety_wake_on_command", "")).lower()
        lines.append(f"| {r['trigger']} | {wake} | {s['p50_ms']:.1f} | {s['p99_ms']:.1f} | {max(samples):.1f} | "
                     f"{s['n']} | {a['tick_p50_ms']} / {a['tick_p99_ms']} | {a['overruns']} |")
    return "\n".join(lines)
