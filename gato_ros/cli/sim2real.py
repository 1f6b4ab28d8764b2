"""`gato-ros sim2real replay|fit|excite|sweep|shadow`: replay a robot log in the sim, fit the sim's arm dynamics to
logs, make a reference log in the sim, measure success and safety interventions vs randomization strength, or compare
a shadow run's agent actions with the operator's (docs/SIM2REAL.md)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("sim2real", help="replay robot logs in the sim; fit the sim's arm dynamics to them",
                              description=__doc__)
    sub = p.add_subparsers(dest="sim2real_command", required=True)

    r = sub.add_parser("replay", help="start the sim from a log's first joint state, apply its efforts, report the "
                                      "per-joint divergence (table, JSON, plot)")
    r.add_argument("bag", type=Path, help="rosbag2 episode with /joint_states and /effort_controller/commands "
                                          "(or /gato/effort_command)")
    r.add_argument("--dynamics", default="", help="sim arm dynamics file (e.g. from `sim2real fit`); default nominal")
    r.add_argument("--cell", choices=("primitive", "real"), default="primitive")
    r.add_argument("--segment", type=float, default=0.0,
                   help="restart from the logged state every SEGMENT seconds (0: open loop over the whole log)")
    r.add_argument("--out", type=Path, default=None, help="folder for replay.json and replay.png "
                                                          "(default sim2real_results/<bag name>)")
    r.set_defaults(func=_replay)

    f = sub.add_parser("fit", help="fit per-joint damping, friction, armature and torque gain to logs; write a sim "
                                   "dynamics file")
    f.add_argument("bags", type=Path, nargs="+")
    f.add_argument("--out", type=Path, required=True, help="dynamics YAML to write (a .json report goes beside it)")
    f.add_argument("--params", nargs="+", default=None, metavar="NAME",
                   help="subset of joint_damping joint_friction joint_armature torque_gain (default all)")
    f.add_argument("--segment", type=float, default=0.5, help="seconds per replayed segment")
    f.add_argument("--cell", choices=("primitive", "real"), default="primitive")
    f.add_argument("--start", default="", help="dynamics file to start from (default the cell's nominal values)")
    f.add_argument("--max-evaluations", type=int, default=400, help="bound on replays of all segments")
    f.add_argument("--truth", default="", help="dynamics file of the true values (sim-made logs): print the errors")
    f.add_argument("--verbose", action="store_true")
    f.set_defaults(func=_fit)

    e = sub.add_parser("excite", help="record a reference log in the sim: multi-sine torques around a PD hold")
    e.add_argument("out", type=Path, help="rosbag2 directory to write (must not exist)")
    e.add_argument("--seconds", type=float, default=3.0)
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--rate", type=float, default=100.0, help="joint state and effort rate (Hz)")
    e.add_argument("--dynamics", default="", help="sim arm dynamics file (the 'true' robot); default nominal")
    e.add_argument("--cell", choices=("primitive", "real"), default="primitive")
    e.set_defaults(func=_excite)

    s = sub.add_parser("sweep", help="success and safety interventions vs domain-randomization strength (direct "
                                     "rollouts; JSON + plot)")
    who = s.add_mutually_exclusive_group(required=True)
    who.add_argument("--expert", action="store_true", help="the scripted expert")
    who.add_argument("--model", type=Path, default=None, help="model directory (gato.json + ONNX graphs)")
    s.add_argument("--preset", default="strong", help="randomization preset or YAML file scaled by each strength")
    s.add_argument("--strengths", type=float, nargs="+", default=[0.0, 0.33, 0.67, 1.0])
    s.add_argument("--episodes", type=int, default=10, help="episodes per strength (same seeds at every strength)")
    s.add_argument("--workers", type=int, default=1)
    s.add_argument("--max-steps", type=int, default=400)
    s.add_argument("--seed", type=int, default=None, help="first held-out seed (default 100000)")
    s.add_argument("--cell", choices=("primitive", "real"), default="primitive")
    s.add_argument("--out", type=Path, default=None,
                   help="JSON file (plot beside it); default benchmarks/results/robustness_<expert|model>.json")
    s.add_argument("--no-progress", action="store_true")
    s.set_defaults(func=_sweep)

    h = sub.add_parser("shadow", help="compare a shadow run's agent actions (/safety/shadow_output) with what the arm "
                                      "was sent (operator or hold): per-joint agreement table, JSON, plot")
    h.add_argument("bag", type=Path, help="rosbag2 (MCAP) of a shadow run with /safety/shadow_output and "
                                          "/effort_controller/commands (record:=DIR with shadow:=true)")
    h.add_argument("--robot", default="", help="registry arm that was run (its joint names and effort limits; "
                                               "default sawyer)")
    h.add_argument("--max-gap", type=float, default=None,
                   help="seconds between a shadow and an arm sample paired as one tick (default 0.005)")
    h.add_argument("--out", type=Path, default=None, help="folder for shadow.json and shadow.png "
                                                          "(default sim2real_results/<bag name>)")
    h.add_argument("--no-plot", action="store_true")
    h.set_defaults(func=_shadow)


def _fail(exc: Exception) -> int:
    print(f"gato-ros sim2real: {exc}", file=sys.stderr)
    return 2


def _replay(args: argparse.Namespace) -> int:
    from gato_ros.sim.env import StackingEnv
    from gato_ros.sim2real.log import read_log
    from gato_ros.sim2real.replay import plot, replay, report_lines

    try:
        log = read_log(args.bag)
        env = StackingEnv(cell=args.cell, dynamics=args.dynamics or None)
        result = replay(log, env, args.segment)
    except ValueError as exc:
        return _fail(exc)
    out = args.out or Path("sim2real_results") / args.bag.name
    out.mkdir(parents=True, exist_ok=True)
    payload = {**result.to_json(), "dynamics": args.dynamics or "nominal", "cell": args.cell,
               "effort_topic": log.effort_topic}
    (out / "replay.json").write_text(json.dumps(payload, indent=2))
    plot(result, out / "replay.png")
    print("\n".join(report_lines(result)))
    print(f"results: {out / 'replay.json'}, plot: {out / 'replay.png'}")
    return 0


def _fit(args: argparse.Namespace) -> int:
    from gato_ros.sim.dynamics import load
    from gato_ros.sim2real.fit import FIT_PARAMS, comparison_lines, fit
    from gato_ros.sim2real.log import read_log

    try:
        logs = [read_log(b) for b in args.bags]
        truth = load(args.truth) if args.truth else None
        result = fit(logs, cell=args.cell, segment_s=args.segment, params=tuple(args.params or FIT_PARAMS),
                     start=args.start or None, max_evaluations=args.max_evaluations, progress=args.verbose)
    except ValueError as exc:
        return _fail(exc)
    result.dynamics.save(args.out)
    report = args.out.with_suffix(".json")
    report.write_text(json.dumps({**result.to_json(), "logs": [str(b) for b in args.bags]}, indent=2))
    print("\n".join(comparison_lines(result, truth)))
    print(f"wrote {args.out} (load it with the sim node's `dynamics` parameter, `--dynamics`); report {report}")
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from gato_ros.eval.direct import HELDOUT_SEED, DirectConfig
    from gato_ros.eval.robustness import SweepConfig, sweep

    if args.model is not None and not (args.model / "gato.json").is_file():
        return _fail(ValueError(f"{args.model} is not a model directory (no gato.json)"))
    name = "expert" if args.expert else args.model.resolve().name
    try:
        base = DirectConfig(model_dir=args.model.resolve() if args.model else None, expert=args.expert,
                            episodes=args.episodes, seed=HELDOUT_SEED if args.seed is None else args.seed,
                            cell=args.cell, max_steps=args.max_steps, workers=args.workers,
                            progress=not args.no_progress)
        cfg = SweepConfig(base, args.preset, tuple(args.strengths),
                          args.out or Path("benchmarks/results") / f"robustness_{name}.json")
    except ValueError as exc:
        return _fail(exc)
    sweep(cfg)
    print(f"results: {cfg.out}, plot: {cfg.out.with_suffix('.png')}")
    return 0


def _excite(args: argparse.Namespace) -> int:
    from gato_ros.sim.env import StackingEnv
    from gato_ros.sim2real.log import write_log
    from gato_ros.sim2real.replay import excite

    if args.out.exists():
        return _fail(ValueError(f"{args.out} already exists"))
    try:
        env = StackingEnv(cell=args.cell, dynamics=args.dynamics or None)
        t, q, qd, u = excite(env, args.seconds, args.seed, args.rate)
    except ValueError as exc:
        return _fail(exc)
    write_log(args.out, t, q, qd, u)
    print(f"wrote {args.out}: {len(t)} joint states and efforts over {t[-1]:.2f} s")
    return 0


def _shadow(args: argparse.Namespace) -> int:
    from gato_ros.robot.registry import DEFAULT_ROBOT, RobotRegistryError, load_robot
    from gato_ros.sim2real.shadow import MAX_GAP_S, agreement, plot, read_shadow_log, report_lines

    try:
        robot = load_robot(args.robot or DEFAULT_ROBOT)
        log = read_shadow_log(args.bag, MAX_GAP_S if args.max_gap is None else args.max_gap)
        result = agreement(log, robot.joint_names, robot.all_effort_limits())
    except (ValueError, RobotRegistryError) as exc:
        return _fail(exc)
    out = args.out or Path("sim2real_results") / args.bag.name
    out.mkdir(parents=True, exist_ok=True)
    (out / "shadow.json").write_text(json.dumps({**result, "robot": robot.name}, indent=2))
    print("\n".join(report_lines(result)))
    if not args.no_plot:
        plot(log, robot.joint_names, out / "shadow.png")
    print(f"results: {out / 'shadow.json'}" + ("" if args.no_plot else f", plot: {out / 'shadow.png'}"))
    return 0
