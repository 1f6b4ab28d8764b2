"""What quantization costs in success: a trained fp32 model and its int8 / int4 copies on the same held-out episodes.

    python benchmarks/precision.py --model models/default --episodes 120 \
        --out benchmarks/results/precision_default

Each precision is exported from the fp32 directory (`gato-ros export MODEL --precision P`, into build/precision/)
and rolled out with `gato-ros eval --direct` on the same seeds (held-out from 100000, never selected), so the
comparison is paired: per precision the success rate with its 95% Wilson interval, and against fp32 the episodes
won by one side only with the exact McNemar p-value. Writes precision.json + precision.png; each precision's
rollouts are kept in OUT/<precision>/results.json and reused by a rerun with the same settings (resume).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from gato_ros.config import PRECISIONS
from gato_ros.eval.direct import DirectConfig, evaluate_direct
from gato_ros.eval.stats import mcnemar_exact, wilson_interval
from gato_ros.export.onnx_export import requantize_model_dir


def rollouts(model_dir: Path, out_dir: Path, episodes: int, seed: int, workers: int | None) -> dict[str, Any]:
    """`gato-ros eval --direct` results of one model directory, reused when out_dir holds the same run."""
    path = out_dir / "results.json"
    if path.is_file():
        done = json.loads(path.read_text())
        if done["first_seed"] == seed and done["overall"]["episodes"] == episodes and \
                done["policy"] == str(model_dir):
            print(f"reusing {path}")
            return done
    return evaluate_direct(DirectConfig(model_dir=model_dir, episodes=episodes, seed=seed, workers=workers,
                                        out_dir=out_dir))


def paired(base: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """Per-seed comparison of two runs over the same episodes."""
    a = {e["seed"]: e["success"] for e in base["episodes_detail"]}
    b = {e["seed"]: e["success"] for e in other["episodes_detail"]}
    if a.keys() != b.keys():
        raise ValueError("the two runs cover different seeds")
    only_base = sorted(s for s in a if a[s] and not b[s])
    only_other = sorted(s for s in a if b[s] and not a[s])
    return {"both": sum(a[s] and b[s] for s in a), "only_fp32": len(only_base), "only_this": len(only_other),
            "only_fp32_seeds": only_base, "only_this_seeds": only_other,
            "mcnemar_p": mcnemar_exact(len(only_base), len(only_other))}


def plot(result: dict[str, Any], path: Path) -> None:
    """Success per precision with its 95% interval; the discordant episodes against fp32 in the labels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(result["precisions"])
    rates = [result["precisions"][p]["success_rate"] for p in names]
    lo = [r - result["precisions"][p]["success_ci95"][0] for p, r in zip(names, rates)]
    hi = [result["precisions"][p]["success_ci95"][1] - r for p, r in zip(names, rates)]
    labels = [p if p == "fp32" else f"{p}\n(-{result['precisions'][p]['vs_fp32']['only_fp32']} "
                                     f"+{result['precisions'][p]['vs_fp32']['only_this']}, "
                                     f"p={result['precisions'][p]['vs_fp32']['mcnemar_p']:.2f})" for p in names]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.bar(labels, rates, yerr=[lo, hi], capsize=6, color=["C0", "C1", "C2"][:len(names)])
    ax.set_ylim(0, 1)
    ax.set_ylabel("held-out success (95% Wilson)")
    ax.set_title(f"{Path(result['model']).name}: {result['episodes']} paired episodes", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="models/default", help="a trained fp32 model directory")
    parser.add_argument("--precisions", default="int8,int4", help=f"comma-separated, from {PRECISIONS[1:]}")
    parser.add_argument("--episodes", type=int, default=120)
    parser.add_argument("--seed", type=int, default=100000, help="first held-out seed")
    parser.add_argument("--workers", type=int, default=None, help="rollout processes (default: one per core)")
    parser.add_argument("--out", default="benchmarks/results/precision_default")
    args = parser.parse_args()
    model, out = Path(args.model), Path(args.out)
    precisions = ["fp32"] + [p for p in args.precisions.split(",") if p != "fp32"]
    if any(p not in PRECISIONS for p in precisions):
        raise SystemExit(f"precisions must be from {PRECISIONS}, got {precisions}")
    runs: dict[str, dict[str, Any]] = {}
    for p in precisions:
        copy = Path("build/precision") / f"{model.name}_{p}"
        model_dir = model if p == "fp32" else requantize_model_dir(model, copy, p)
        runs[p] = rollouts(model_dir.resolve(), out / p, args.episodes, args.seed, args.workers)
    result: dict[str, Any] = {"model": str(model), "episodes": args.episodes, "first_seed": args.seed,
                              "command": "python benchmarks/precision.py " + " ".join(
                                  f"--{k} {v}" for k, v in vars(args).items() if v is not None),
                              "precisions": {}}
    for p, run in runs.items():
        o = run["overall"]
        row = {"successes": o["successes"], "success_rate": o["success_rate"],
               "success_ci95": list(wilson_interval(o["successes"], o["episodes"])),
               "furthest_stage_counts": o["furthest_stage_counts"], "safety_interventions": o["safety_interventions"],
               "act_ms_mean": sum(e["act_ms_mean"] for e in run["episodes_detail"]) / len(run["episodes_detail"])}
        if p != "fp32":
            row["vs_fp32"] = paired(runs["fp32"], run)
        result["precisions"][p] = row
        print(f"{p:>5}: {o['successes']}/{o['episodes']} = {o['success_rate']:.0%} "
              f"[{row['success_ci95'][0]:.0%}-{row['success_ci95'][1]:.0%}]"
              + (f"; vs fp32: lost {row['vs_fp32']['only_fp32']}, won {row['vs_fp32']['only_this']}, "
                 f"McNemar p {row['vs_fp32']['mcnemar_p']:.2f}" if p != "fp32" else ""))
    out.mkdir(parents=True, exist_ok=True)
    (out / "precision.json").write_text(json.dumps(result, indent=2))
    plot(result, out / "precision.png")
    print(f"wrote {out / 'precision.json'} and {out / 'precision.png'}")


if __name__ == "__main__":
    main()
