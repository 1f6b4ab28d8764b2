"""`gato-ros train --config config/train_tiny.yaml [--resume]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a Gato on rosbag2 demos (and optional text) from a YAML config")
    p.add_argument("--config", type=Path, required=True)
    p.add_argument("--resume", action="store_true", help="continue from run_dir/checkpoint.pt")
    p.add_argument("--steps", type=int, default=None, help="override the config's step count")
    p.add_argument("--run-dir", default=None, help="override the config's run_dir")
    p.add_argument("--seed", type=int, default=None, help="override the config's seed (run-to-run spread)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import dataclasses
    import logging

    from gato_ros.train.config import TrainConfig
    from gato_ros.train.loop import train

    from gato_ros.config import ConfigError
    from gato_ros.demos.bag import DemoError

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        cfg = TrainConfig.load(args.config)
        if args.steps is not None:
            cfg = dataclasses.replace(cfg, steps=args.steps)
        if args.run_dir is not None:
            cfg = dataclasses.replace(cfg, run_dir=args.run_dir)
        if args.seed is not None:
            cfg = dataclasses.replace(cfg, seed=args.seed)
        ckpt = train(cfg, resume=args.resume)
    except (ConfigError, DemoError, ValueError, RuntimeError) as exc:
        print(f"gato-ros train: error: {exc}", file=sys.stderr)
        return 2
    print(f"checkpoint: {ckpt}\nlogs: {Path(cfg.run_dir) / 'metrics.csv'}, plot: {Path(cfg.run_dir) / 'loss.png'}")
    print(f"export with: gato-ros export {ckpt} --out models/NAME")
    return 0
