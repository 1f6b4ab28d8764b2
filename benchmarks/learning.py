"""Learning curves and ablations of the object-state Gato: closed-loop success and held-out action error per
checkpoint, as JSON and plots in benchmarks/results/.

    python benchmarks/learning.py --run runs/objects_main --heldout data/demos_objects_heldout \
        --episodes 20 --out benchmarks/results/learning_objects.json
    python benchmarks/learning.py --ablations runs/ablate_all runs/ablate_no_action_pos ... --episodes 20 \
        --heldout data/demos_objects_heldout --out benchmarks/results/ablations_objects.json

For a run, every snapshot (run/snapshots/step_N.pt) and the final checkpoint is exported to ONNX and evaluated
with `gato-ros eval --direct` (held-out seeds from 100000, never selected) and teacher-forced on held-out demos:
the training loop's held-out action error (decoded action vs the expert's, in units of each joint's effort
limit) on windows drawn as training draws them ([instruction][timesteps]).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

def heldout_action_error(checkpoint: Path, heldout: Path, windows: int = 48) -> dict:
    """Teacher-forced action error on held-out demos: the training loop's metric (`gato_ros.train.loop.action_error`,
    all 8 dimensions in units of their effort limits) on windows drawn as training draws them (no prompt)."""
    import torch

    from gato_ros.model.gato import load_checkpoint
    from gato_ros.tokenizer import GatoTokenizer, collate
    from gato_ros.train.config import DatasetConfig
    from gato_ros.train.data import Mixture, load_control
    from gato_ros.train.loop import action_error

    torch.set_num_threads(1)
    model, config, _ = load_checkpoint(checkpoint)
    tok = GatoTokenizer(config)
    length = int(config.model.get("context_window") or 512)
    source = load_control(DatasetConfig(name="heldout", paths=(str(heldout),)), tok, progress=False)
    batch = collate(Mixture([source], length, 0.0, 0, seed=0).batch(windows), length)
    return {"mean_error": action_error(model, batch, tok), "windows": windows}

def direct_eval(checkpoint: Path, episodes: int, workers: int) -> dict:
    """Export the checkpoint and run `gato-ros eval --direct`; returns its overall summary."""
    with tempfile.TemporaryDirectory() as tmp:
        model, out = Path(tmp) / "model", Path(tmp) / "eval"
        subprocess.run([sys.executable, "-m", "gato_ros.cli", "export", str(checkpoint), "--out", str(model)],
                       check=True, capture_output=True)
        subprocess.run([sys.executable, "-m", "gato_ros.cli", "eval", "--direct", "--model", str(model),
                        "--episodes", str(episodes), "--workers", str(workers), "--out", str(out), "--no-progress"],
                       check=True)
        return json.loads((out / "results.json").read_text())["overall"]

def checkpoints(run: Path) -> list[tuple[int, Path]]:
    """(step, path) of a run's snapshots and its final checkpoint, by step."""
    import torch

    found = {int(m.group(1)): p for p in (run / "snapshots").glob("step_*.pt")
             if (m := re.match(r"step_(\d+)\.pt", p.name))}
    final = run / "checkpoint.pt"
    if final.is_file():
        found.setdefault(int(torch.load(final, map_location="cpu", weights_only=False)["step"]), final)
    return sorted(found.items())

def tokens_per_step(run: Path) -> int:
    cfg = json.loads((run / "train_config.json").read_text())
    return int(cfg["batch_size"]) * int(cfg["seq_len"])

def plot_curve(rows: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax1 = plt.subplots(figsize=(6.5, 3.8))
    x = [r["train_tokens"] / 1e6 for r in rows]
    rate = [r["direct"]["success_rate"] for r in rows]
    lo = [r["direct"]["success_rate"] - r["direct"]["success_ci95"][0] for r in rows]
    hi = [r["direct"]["success_ci95"][1] - r["direct"]["success_rate"] for r in rows]
    ax1.errorbar(x, rate, yerr=[lo, hi], marker="o", capsize=3, label="success (95% Wilson)")
    grasp = [r["direct"]["stages"]["grasped"]["rate"] for r in rows]
    ax1.plot(x, grasp, marker="s", ls="--", label="grasped")
    ax1.set_ylim(0, 1)
    ax1.set_xlabel("training tokens (M)")
    ax1.set_ylabel("share of held-out episodes")
    ax2 = ax1.twinx()
    ax2.plot(x, [r["heldout"]["mean_error"] for r in rows], color="gray", marker="^", label="held-out action error")
    ax2.set_ylabel("action error (x effort limit)")
    fig.legend(loc="upper left", fontsize=8)
    ax1.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="a training run dir: evaluate every snapshot (learning curve)")
    parser.add_argument("--ablations", type=Path, nargs="+", help="run dirs: evaluate each final checkpoint")
    parser.add_argument("--heldout", type=Path, required=True, help="held-out demo bags (teacher-forced error)")
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    rows = []
    if args.run:
        for step, ckpt in checkpoints(args.run):
            row = {"run": str(args.run), "step": step, "train_tokens": step * tokens_per_step(args.run),
                   "heldout": heldout_action_error(ckpt, args.heldout),
                   "direct": direct_eval(ckpt, args.episodes, args.workers)}
            rows.append(row)
            print(json.dumps({k: row[k] for k in ("step", "train_tokens")}), row["direct"]["success_rate"],
                  row["heldout"]["mean_error"], flush=True)
        plot_curve(rows, args.out.with_suffix(".png"), f"{args.run.name}: success and held-out error vs tokens")
    for run in args.ablations or []:
        step, ckpt = checkpoints(run)[-1]
        row = {"run": str(run), "step": step, "train_tokens": step * tokens_per_step(run),
               "heldout": heldout_action_error(ckpt, args.heldout),
               "direct": direct_eval(ckpt, args.episodes, args.workers)}
        rows.append(row)
        print(run, row["direct"]["success_rate"], row["heldout"]["mean_error"], flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=1))
    return 0

if __name__ == "__main__":
    sys.exit(main())
