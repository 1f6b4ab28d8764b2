"""`gato-ros eval --model DIR --episodes N`: success and staged progress through the full ROS graph."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="evaluate a model in the sim through sim + safety + agent over DDS")
    p.add_argument("--model", type=Path, required=True, help="model directory (gato.json + ONNX graphs)")
    p.add_argument("--episodes", type=int, default=2, help="episodes per object set and prompt condition")
    p.add_argument("--object-sets", nargs="+", default=None,
                   help="default: rgb_train_random and rgb_test_triplet1..5")
    p.add_argument("--prompt-demo", type=Path, default=None, help="also evaluate with this demo as the prompt")
    p.add_argument("--cell", default="primitive", choices=("primitive", "real"))
    p.add_argument("--seed", type=int, default=None, help="first held-out seed (default 100000)")
    p.add_argument("--out", type=Path, default=Path("eval_results"))
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from gato_ros.eval.graph_eval import DEFAULT_SETS, HELDOUT_SEED, EvalConfig, evaluate

    if not (args.model / "gato.json").is_file():
        print(f"gato-ros eval: {args.model} is not a model directory (no gato.json)")
        return 2
    if args.prompt_demo is not None and not args.prompt_demo.is_dir():
        print(f"gato-ros eval: prompt demo {args.prompt_demo} does not exist")
        return 2
    cfg = EvalConfig(model_dir=args.model.resolve(), episodes=args.episodes,
                     object_sets=tuple(args.object_sets) if args.object_sets else DEFAULT_SETS,
                     prompt_demo=args.prompt_demo.resolve() if args.prompt_demo else None,
                     seed=HELDOUT_SEED if args.seed is None else args.seed, cell=args.cell, out_dir=args.out)
    out = evaluate(cfg)
    for c in out["conditions"]:
        print(f"{c['object_set']:>20} prompt={str(c['prompt']):5} success {c['success_rate']:.0%} "
              + " ".join(f"{k} {v:.0%}" for k, v in c["stage_rates"].items()))
    print(f"results: {args.out / 'results.json'}, plot: {args.out / 'results.png'}")
    return 0
