"""Robustness sweep: success and safety interventions vs domain-randomization strength, through the direct
evaluation (gato_ros.eval.direct: the policy or the scripted expert -> SafetyFilter -> StackingEnv).

Strength k scales every setting of a preset (Randomization.scaled): 0 is the nominal cell, 1 the preset itself
(`strong` ~ 3x `mild`). Each strength runs the same held-out seeds, so the curves differ only by the perturbation.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from gato_ros.eval.direct import DirectConfig, evaluate_direct
from gato_ros.eval.stats import format_rate


@dataclass(frozen=True)
class SweepConfig:
    base: DirectConfig  # policy, episodes, seeds, workers; its randomization and out_dir are set per strength
    preset: str = "strong"
    strengths: tuple[float, ...] = (0.0, 0.33, 0.67, 1.0)
    out: Path = Path("benchmarks/results/robustness.json")

    def __post_init__(self) -> None:
        from gato_ros.sim.randomization import load

        load(self.preset)  # a bad preset or file fails before any episode
        if not self.strengths or any(not (k >= 0) for k in self.strengths):
            raise ValueError(f"strengths must be non-empty and >= 0, got {list(self.strengths)}")


def sweep(cfg: SweepConfig) -> dict[str, Any]:
    """Run the direct evaluation at every strength; write cfg.out (JSON) and the plot beside it (.png)."""
    from gato_ros.sim.randomization import load

    preset = load(cfg.preset)
    work = cfg.out.with_suffix("")  # per-strength results and the randomization files actually used
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    start = time.perf_counter()
    for k in cfg.strengths:
        rand = preset.scaled(k)
        rand_file = work / f"randomization_{k:g}.yaml"
        rand_file.write_text(yaml.safe_dump(rand.to_dict(), sort_keys=False))
        out = evaluate_direct(replace(cfg.base, randomization=str(rand_file) if rand.enabled else "",
                                      out_dir=work / f"strength_{k:g}"))
        o = out["overall"]
        rows.append({"strength": k, "randomization": rand.to_dict(), "episodes": o["episodes"],
                     "successes": o["successes"], "success_rate": o["success_rate"],
                     "success_ci95": o["success_ci95"],
                     "stage_rates": {s: v["rate"] for s, v in o["stages"].items()},
                     "interventions": o["safety_interventions"],
                     "interventions_per_episode": o["safety_interventions"] / o["episodes"],
                     "safety_counts": o["safety_counts"]})
        print(f"strength {k:g}: success {format_rate(o['successes'], o['episodes'])}, "
              f"{rows[-1]['interventions_per_episode']:.1f} interventions/episode", flush=True)
    result = {"policy": "scripted_expert" if cfg.base.expert else str(cfg.base.model_dir), "preset": cfg.preset,
              "cell": cfg.base.cell, "episodes_per_strength": cfg.base.episodes, "first_seed": cfg.base.seed,
              "max_steps": cfg.base.max_steps, "object_sets": list(cfg.base.object_sets),
              "wall_time_s": round(time.perf_counter() - start, 1),
              "command": _command(cfg),
              "strengths": rows}
    cfg.out.parent.mkdir(parents=True, exist_ok=True)
    cfg.out.write_text(json.dumps(result, indent=2))
    plot(result, cfg.out.with_suffix(".png"))
    return result


def _command(cfg: SweepConfig) -> str:
    """The command line that reproduces this sweep."""
    who = "--expert" if cfg.base.expert else f"--model {cfg.base.model_dir}"
    strengths = " ".join(f"{k:g}" for k in cfg.strengths)
    return (f"gato-ros sim2real sweep {who} --preset {cfg.preset} --strengths {strengths} --episodes "
            f"{cfg.base.episodes} --workers {cfg.base.workers or 'cpu'} --max-steps {cfg.base.max_steps}")


def plot(result: dict[str, Any], path: Path) -> None:
    """Success rate (95 % Wilson) and safety interventions per episode vs strength."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["strengths"]
    k = [r["strength"] for r in rows]
    rate = [r["success_rate"] for r in rows]
    lo = [r["success_rate"] - r["success_ci95"][0] for r in rows]
    hi = [r["success_ci95"][1] - r["success_rate"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.errorbar(k, rate, yerr=[lo, hi], marker="o", capsize=3, color="C0", label="success (95% Wilson)")
    for stage in ("reached", "grasped", "lifted"):
        ax.plot(k, [r["stage_rates"].get(stage, 0.0) for r in rows], ls=":", marker=".", label=stage)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(f"randomization strength (x preset {result['preset']!r}; 0 = nominal)")
    ax.set_ylabel("share of episodes")
    twin = ax.twinx()
    twin.plot(k, [r["interventions_per_episode"] for r in rows], marker="s", color="C3", label="interventions")
    twin.set_ylabel("safety interventions / episode", color="C3")
    lines = ax.get_legend_handles_labels()
    extra = twin.get_legend_handles_labels()
    ax.legend(lines[0] + extra[0], lines[1] + extra[1], fontsize=7, loc="lower left")
    ax.set_title(f"{Path(result['policy']).name}: {result['episodes_per_strength']} episodes per strength, "
                 f"{result['cell']} cell", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
