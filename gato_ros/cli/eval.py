"""`gato-ros eval --model DIR --episodes N`: success and staged progress through the full ROS graph.

`--direct`: the same model in-process on StackingEnv (no ROS), episodes in parallel worker processes;
`--direct --expert`: the scripted expert through the same loop (baseline and check of the evaluator).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="evaluate a model in the sim through sim + safety + agent over DDS")
    p.add_argument("--model", type=Path, default=None, help="model directory (gato.json + ONNX graphs)")
    p.add_argument("--episodes", type=int, default=None,
                   help="episodes per object set and prompt condition (default 2; --direct: 10)")
    p.add_argument("--direct", action="store_true",
                   help="roll out in-process on StackingEnv without ROS (SafetyFilter applied), in parallel")
    p.add_argument("--expert", action="store_true", help="with --direct: evaluate the scripted expert instead")
    p.add_argument("--workers", type=int, default=None, help="--direct: worker processes (default cpu count)")
    p.add_argument("--max-steps", type=int, default=400, help="--direct: control steps per episode (all are run)")
    p.add_argument("--command-latency-ms", type=float, default=0.0,
                   help="--direct: each command reaches the safety filter this long after its observation (the "
                        "graph's delay; rounded to the filter's 10 ms ticks)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--object-sets", nargs="+", default=None,
                   help="default: rgb_train_random and rgb_test_triplet1..5")
    p.add_argument("--prompt-demo", type=Path, default=None, help="also evaluate with this demo as the prompt")
    p.add_argument("--cell", default="primitive", choices=("primitive", "real"))
    p.add_argument("--seed", type=int, default=None, help="first held-out seed (default 100000)")
    p.add_argument("--out", type=Path, default=None, help="default eval_results (--direct: eval_results/direct)")
    p.add_argument("--randomization", default="", metavar="PRESET|FILE",
                   help="domain randomization of the sim per episode: none, mild, strong or a YAML file")
    p.set_defaults(func=_run)


def _direct(args: argparse.Namespace) -> int:
    from gato_ros.eval.direct import HELDOUT_SEED, DirectConfig, evaluate_direct, report_lines

    if args.expert == (args.model is not None):
        print("gato-ros eval --direct: give --model DIR or --expert (not both)")
        return 2
    if args.model is not None and not (args.model / "gato.json").is_file():
        print(f"gato-ros eval: {args.model} is not a model directory (no gato.json)")
        return 2
    try:
        cfg = DirectConfig(model_dir=args.model.resolve() if args.model else None, expert=args.expert,
                           episodes=10 if args.episodes is None else args.episodes,
                           object_sets=tuple(args.object_sets) if args.object_sets else ("rgb_train_random",),
                           seed=HELDOUT_SEED if args.seed is None else args.seed, cell=args.cell,
                           max_steps=args.max_steps, workers=args.workers,
                           prompt_demo=args.prompt_demo.resolve() if args.prompt_demo else None,
                           out_dir=args.out or Path("eval_results/direct"), progress=not args.no_progress,
                           randomization=args.randomization, command_latency_s=args.command_latency_ms / 1e3)
    except ValueError as exc:
        print(f"gato-ros eval --direct: {exc}")
        return 2
    out = evaluate_direct(cfg)
    print("\n".join(report_lines(out)))
    print(f"results: {cfg.out_dir / 'results.json'}, plot: {cfg.out_dir / 'results.png'}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from gato_ros.eval.graph_eval import DEFAULT_SETS, HELDOUT_SEED, EvalConfig, evaluate

    if args.direct:
        return _direct(args)
    if args.expert:
        print("gato-ros eval: --expert needs --direct")
        return 2
    if args.model is None:
        print("gato-ros eval: --model DIR is required")
        return 2
    args.out = args.out or Path("eval_results")
    args.episodes = 2 if args.episodes is None else args.episodes
    if not (args.model / "gato.json").is_file():
        print(f"gato-ros eval: {args.model} is not a model directory (no gato.json)")
        return 2
    if args.prompt_demo is not None and not args.prompt_demo.is_dir():
        print(f"gato-ros eval: prompt demo {args.prompt_demo} does not exist")
        return 2
    if args.randomization:
        from gato_ros.sim.randomization import PRESETS, RandomizationError, load

        try:
            load(args.randomization)
        except RandomizationError as exc:
            print(f"gato-ros eval: {exc}")
            return 2
        if args.randomization not in PRESETS:  # the sim node runs elsewhere: give it an absolute path
            args.randomization = str(Path(args.randomization).resolve())
    cfg = EvalConfig(model_dir=args.model.resolve(), episodes=args.episodes, randomization=args.randomization,
                     object_sets=tuple(args.object_sets) if args.object_sets else DEFAULT_SETS,
                     prompt_demo=args.prompt_demo.resolve() if args.prompt_demo else None,
                     seed=HELDOUT_SEED if args.seed is None else args.seed, cell=args.cell, out_dir=args.out,
                     status=sys.stdout.isatty())
    out = evaluate(cfg)
    from gato_ros.eval.stats import format_rate

    print("success and stage rates with 95% Wilson intervals")
    for c in out["conditions"]:
        n = c["episodes"]
        print(f"{c['object_set']:>20} prompt={str(c['prompt']):5} success {format_rate(c['successes'], n)} "
              + " ".join(f"{k} {format_rate(round(v * n), n)}" for k, v in c["stage_rates"].items()))
    print(f"results: {args.out / 'results.json'}, plot: {args.out / 'results.png'}")
    return 0
