"""`gato-ros`: one command line with a subcommand per job; each lives in `gato_ros/cli/<name>.py`."""

from __future__ import annotations

import argparse
import importlib
import sys

# Each module defines `register(subparsers)` which adds its parser and sets `func`.
SUBCOMMANDS: tuple[str, ...] = (
    "tokenizer", "train", "export", "bench", "demos", "record", "run", "eval", "doctor", "sim2real",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gato-ros", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in SUBCOMMANDS:
        importlib.import_module(f"gato_ros.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
