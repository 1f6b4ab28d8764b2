"""`gato-ros bench`: runtime latency per control step vs naive PyTorch and the memory-bandwidth bound."""

from __future__ import annotations

import argparse
from pathlib import Path

from gato_ros.bench.latency import VARIANTS


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("bench", help="benchmark the runtime (writes benchmarks/results/bench.json + PNG)")
    p.add_argument("--configs", default="tiny,small,79m", help="comma-separated model configs (random weights)")
    p.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated subset of {','.join(VARIANTS)}")
    p.add_argument("--reps", type=int, help="timed control steps per cached variant (default per config)")
    p.add_argument("--naive-reps", type=int, help="timed steps of the naive variant (slow for 79m; default 3)")
    p.add_argument("--context", type=int, default=1024, help="context tokens (the window is full while timing)")
    p.add_argument("--threads", type=int, default=0, help="intra-op threads (0: all cores)")
    p.add_argument("--with-sim", action="store_true", help="measure again with a MuJoCo stepping loop running")
    p.add_argument("--provider", default="cpu", choices=("cpu", "cuda", "auto"),
                   help="ONNX Runtime provider of the ort_* variants (cuda: IO binding, cache on the device)")
    p.add_argument("--peer", action="store_true",
                   help="also measure the same-shape HF transformers GPT-2 with its KV cache in the same run "
                        "(needs transformers: pip install .[peer])")
    p.add_argument("--out", default="benchmarks/results", help="output folder")
    p.add_argument("--graph", action="store_true", help="instead: image stamp -> safety output latency in the running "
                                                         "graph (sim + safety + agent) -> graph_latency.json + PNG")
    p.add_argument("--model", default="", help="--graph: model directory (default: models/default)")
    p.add_argument("--seconds", type=float, default=45.0, help="--graph: seconds measured per agent trigger")
    p.add_argument("--episode-seconds", type=float, default=20.0,
                   help="--graph: an episode ends at success or after this long; the next starts at once")
    p.add_argument("--triggers", default="image,timer", help="--graph: agent triggers to measure (image, timer)")
    p.add_argument("--wake-on-command", default="true",
                   help="--graph: the safety node's wake_on_command settings to measure, back to back per trigger "
                        "(true, false or false,true); runs with false are keyed <trigger>_wake_off")
    p.set_defaults(func=run)


def run_graph(args: argparse.Namespace) -> int:
    from gato_ros.bench.graph import GraphBenchOptions, run_graph_bench, summary_table

    words = {"true": True, "false": False}
    wake = [w.strip().lower() for w in args.wake_on_command.split(",") if w.strip()]
    if not wake or any(w not in words for w in wake):
        raise SystemExit(f"gato-ros bench: --wake-on-command takes true, false or both (comma-separated), "
                         f"got {args.wake_on_command!r}")
    opts = GraphBenchOptions(model_dir=args.model, triggers=tuple(t for t in args.triggers.split(",") if t),
                             seconds=args.seconds, episode_s=args.episode_seconds, out_dir=Path(args.out),
                             wake_on_command=tuple(words[w] for w in wake))
    results = run_graph_bench(opts)
    print(summary_table(results))
    print(f"wrote {opts.out_dir / 'graph_latency.json'} and {opts.out_dir / 'graph_latency.png'}")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.graph:
        return run_graph(args)
    from gato_ros.bench.latency import BenchOptions, run_bench, summary_table

    variants = tuple(v for v in args.variants.split(",") if v)
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        raise SystemExit(f"gato-ros bench: unknown variants {sorted(unknown)}; choose from {VARIANTS}")
    opts = BenchOptions(configs=tuple(c for c in args.configs.split(",") if c), variants=variants, reps=args.reps,
                        naive_reps=args.naive_reps, context=args.context, threads=args.threads,
                        with_sim=args.with_sim, peer=args.peer, provider=args.provider,
                        out_dir=Path(args.out))
    results = run_bench(opts)
    print(summary_table(results))
    print(f"wrote {opts.out_dir / 'bench.json'} and {opts.out_dir / 'bench_latency.png'}")
    return 0
