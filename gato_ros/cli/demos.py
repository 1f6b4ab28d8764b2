"""`gato-ros demos generate|list|show|trim|mark|render`: make expert demos, browse and edit recorded ones."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gato_ros.interfaces import OBJECT_FRAMES
from gato_ros.robot.registry import DEFAULT_ROBOT


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("demos", help="generate expert demos; list, show, trim, mark, render recorded demos",
                              description=__doc__)
    sub = p.add_subparsers(dest="demos_command", required=True)

    g = sub.add_parser("generate", help="scripted-expert demos in the MuJoCo sim (rosbag2 MCAP, one per episode)")
    g.add_argument("out_dir", type=Path, nargs="?", default=None, help="output directory (or --out)")
    g.add_argument("--out", type=Path, default=None, help="output directory (one episode_NNNNN bag per episode)")
    g.add_argument("--episodes", type=int, default=10)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--cell", choices=("primitive", "real"), default="primitive")
    g.add_argument("--robot", default=DEFAULT_ROBOT, help="registry arm (robots/<name>): sawyer, panda")
    g.add_argument("--object-set", default="rgb_train_random")
    g.add_argument("--camera", default="basket_front_left")
    g.add_argument("--image-size", type=int, nargs=2, default=(64, 64), metavar=("H", "W"))
    g.add_argument("--max-steps", type=int, default=400, help="control steps per episode at most (20 Hz)")
    g.add_argument("--workers", type=int, default=None,
                   help="parallel processes (default: os.cpu_count()); episodes already complete in the output "
                        "directory are skipped, so rerunning an interrupted command continues it")
    g.add_argument("--randomization", default="", metavar="PRESET|FILE",
                   help="domain randomization per episode: none, mild, strong (config/randomization/) or a YAML file")
    g.add_argument("--noise", type=float, default=0.0, metavar="SCALE",
                   help="execute the expert's Cartesian command plus AR(1) Gaussian noise of SCALE x the per-step "
                        "bounds and record the clean command (DART-style recovery demos; 0 = none)")
    g.add_argument("--noise-correlation", type=float, default=0.9,
                   help="step-to-step correlation of that noise (a drift of about 1 / (1 - c) steps)")
    g.add_argument("--noise-phases", default="", metavar="PHASE,...",
                   help="perturb only while the expert is in these phases (e.g. lift,transport; default: all)")
    g.add_argument("--object-frame", choices=OBJECT_FRAMES, default="body",
                   help="record each object's pose of its body frame or of its grasp frame (x along its narrowest "
                        "horizontal width; docs/INTERFACES.md); a model trains on one")
    g.add_argument("--no-progress", action="store_true")
    g.set_defaults(func=_generate)

    dg = sub.add_parser("dagger", help="roll a model out and record the expert's action at every state it visits "
                                       "(DAgger relabelling; resumable)")
    dg.add_argument("--model", type=Path, required=True, help="model directory (gato.json + ONNX graphs)")
    dg.add_argument("--out", type=Path, required=True, help="output directory (one episode_<seed> bag per episode)")
    dg.add_argument("--episodes", type=int, default=100)
    dg.add_argument("--seed", type=int, default=50_000, help="first seed (keep clear of demo and held-out seeds)")
    dg.add_argument("--beta", type=float, default=0.0, help="per-step probability of executing the expert's action")
    dg.add_argument("--cell", choices=("primitive", "real"), default="primitive")
    dg.add_argument("--object-set", default="rgb_train_random")
    dg.add_argument("--workers", type=int, default=None, help="parallel processes (default: os.cpu_count())")
    dg.add_argument("--no-progress", action="store_true")
    dg.set_defaults(func=_dagger)

    ls = sub.add_parser("list", help="one line per demo under ROOT: steps, duration, success, instruction")
    ls.add_argument("root", type=Path, nargs="?", default=Path("demos"))
    ls.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ls.set_defaults(func=_list)

    sh = sub.add_parser("show", help="details of one demo (topics, outcome, metadata, ranges) as JSON")
    sh.add_argument("demo", type=Path)
    sh.set_defaults(func=_show)

    tr = sub.add_parser("trim", help="cut the idle head and tail (or keep steps [--start, --stop)), in place")
    tr.add_argument("demo", type=Path)
    tr.add_argument("--start", type=int, default=None)
    tr.add_argument("--stop", type=int, default=None)
    tr.add_argument("--velocity-threshold", type=float, default=0.02, help="rad/s: slower arm joints = idle")
    tr.add_argument("--margin", type=int, default=2, help="idle steps kept on each side")
    tr.set_defaults(func=_trim)

    mk = sub.add_parser("mark", help="set the demo's outcome (success or failure)")
    mk.add_argument("demo", type=Path)
    group = mk.add_mutually_exclusive_group(required=True)
    group.add_argument("--success", dest="success", action="store_true")
    group.add_argument("--failure", dest="success", action="store_false")
    mk.add_argument("--note", default="")
    mk.set_defaults(func=_mark)

    rd = sub.add_parser("render", help="contact sheet (.png) or video (.mp4) of a demo's camera frames")
    rd.add_argument("demo", type=Path)
    rd.add_argument("out", type=Path, help="output file: .png/.jpg (sheet) or .mp4/.avi (video)")
    rd.add_argument("--frames", type=int, default=24)
    rd.add_argument("--columns", type=int, default=8)
    rd.add_argument("--scale", type=int, default=2)
    rd.set_defaults(func=_render)


def _fail(exc: Exception) -> int:
    print(f"gato-ros demos: {exc}", file=sys.stderr)
    return 2


def _generate(args: argparse.Namespace) -> int:
    from gato_ros.demos.generate import generate_demos

    out = args.out or args.out_dir
    if out is None or (args.out and args.out_dir and args.out != args.out_dir):
        return _fail(ValueError("give one output directory: `demos generate DIR` or `demos generate --out DIR`"))
    args.out_dir = out
    try:
        results = generate_demos(args.out_dir, args.episodes, seed=args.seed, cell=args.cell,
                                 object_set=args.object_set, camera=args.camera, image_size=tuple(args.image_size),
                                 progress=not args.no_progress, max_steps=args.max_steps, workers=args.workers,
                                 randomization=args.randomization, robot=args.robot, noise=args.noise,
                                 noise_correlation=args.noise_correlation,
                                 noise_phases=tuple(p for p in args.noise_phases.split(",") if p),
                                 object_frame=args.object_frame)
    except (ValueError, RuntimeError) as exc:
        return _fail(exc)
    ok = sum(bool(r.get("success")) for r in results)
    print(f"wrote {len(results)} demos to {args.out_dir} ({ok} successful)")
    return 0


def _dagger(args: argparse.Namespace) -> int:
    from gato_ros.eval.dagger import collect_dagger

    if not (args.model / "gato.json").is_file():
        return _fail(ValueError(f"{args.model} is not a model directory (no gato.json)"))
    try:
        summary = collect_dagger(args.model, args.out, args.episodes, args.seed, args.cell, args.object_set,
                                 args.beta, args.workers, progress=not args.no_progress)
    except (ValueError, RuntimeError) as exc:
        return _fail(exc)
    print(f"{summary['episodes']} relabelled rollouts in {args.out} (rollout success "
          f"{summary['rollout_success_rate']:.0%}, beta {args.beta})")
    return 0


def _list(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from gato_ros.demos.bag import DemoError
    from gato_ros.demos.manage import format_table, list_demos, to_json

    try:
        rows = list_demos(args.root)
    except DemoError as exc:
        return _fail(exc)
    print(to_json([asdict(r) for r in rows]) if args.json else format_table(rows))
    return 0


def _show(args: argparse.Namespace) -> int:
    from gato_ros.demos.bag import DemoError
    from gato_ros.demos.manage import show, to_json

    try:
        print(to_json(show(args.demo)))
    except DemoError as exc:
        return _fail(exc)
    return 0


def _trim(args: argparse.Namespace) -> int:
    from gato_ros.demos.bag import DemoError
    from gato_ros.demos.manage import trim

    try:
        start, stop, n = trim(args.demo, args.start, args.stop, args.velocity_threshold, args.margin)
    except DemoError as exc:
        return _fail(exc)
    print(f"{args.demo}: kept steps [{start}, {stop}) of {n}")
    return 0


def _mark(args: argparse.Namespace) -> int:
    from gato_ros.demos.bag import DemoError
    from gato_ros.demos.manage import mark

    try:
        outcome = mark(args.demo, args.success, args.note)
    except DemoError as exc:
        return _fail(exc)
    print(f"{args.demo}: outcome {outcome}")
    return 0


def _render(args: argparse.Namespace) -> int:
    from gato_ros.demos.bag import DemoError
    from gato_ros.demos.manage import render

    try:
        out = render(args.demo, args.out, args.frames, args.columns, args.scale)
    except DemoError as exc:
        return _fail(exc)
    print(f"wrote {out}")
    return 0
