"""`gato-ros run stacking`: the stacking graph without the ros2 CLI (same nodes and parameter files as the launch)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gato_ros.launch_runner.graph import STACKING

GRAPHS = {"stacking": STACKING}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("run", help="run a node graph (sim/safety/agent...) as processes, without ros2 launch",
                              description=__doc__)
    p.add_argument("graph", choices=sorted(GRAPHS), help="which graph (launch/<graph>.launch.py)")
    for arg in STACKING.args:  # one option per launch argument, so the two cannot drift
        default = f"value of --{arg.default_from.replace('_', '-')}" if arg.default_from else repr(arg.default)
        flag = {"nargs": "?", "const": "true"} if arg.default == "false" else {}  # `--foxglove` = `--foxglove true`
        p.add_argument(f"--{arg.name.replace('_', '-')}", dest=f"arg_{arg.name}", default=None, metavar="VALUE",
                       help=f"{arg.description} (launch argument {arg.name}; default {default})", **flag)
    p.add_argument("--episodes", type=int, default=1, help="sim episodes to run (0: until Ctrl-C)")
    p.add_argument("--duration", type=float, default=30.0, help="seconds per episode (total without sim)")
    p.add_argument("--stop-timeout", type=float, default=10.0, help="SIGINT grace before SIGTERM, then SIGKILL")
    p.add_argument("--lifecycle-timeout", type=float, default=60.0, help="seconds allowed for agent configure")
    p.add_argument("--config-dir", type=Path, default=None, help="parameter files folder (default: package config/)")
    p.add_argument("--log-dir", type=Path, default=None, help="write each node's output to DIR/<node>.log")
    p.add_argument("--summary-json", type=Path, default=None, help="also write the summary as JSON here")
    p.add_argument("--no-status", action="store_true", help="no status line (it is drawn only on a terminal)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from gato_ros.launch_runner.runner import RunOptions, run_stacking

    values = {a.name: getattr(args, f"arg_{a.name}") for a in GRAPHS[args.graph].args
              if getattr(args, f"arg_{a.name}") is not None}
    options = RunOptions(episodes=args.episodes, duration_s=args.duration, stop_timeout_s=args.stop_timeout,
                         lifecycle_timeout_s=args.lifecycle_timeout, config_dir=args.config_dir, log_dir=args.log_dir,
                         status=sys.stdout.isatty() and not args.no_status)
    return run_stacking(values, options, args.summary_json)
