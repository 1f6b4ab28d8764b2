"""`gato-ros export CHECKPOINT --out models/NAME [--int8]` or `gato-ros export --random tiny --out DIR`."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("export", help="export a checkpoint (or a random model) to an ONNX model directory")
    p.add_argument("checkpoint", nargs="?", help="checkpoint written by `gato-ros train`")
    p.add_argument("--random", metavar="CONFIG", help="export a randomly initialised model of this config instead")
    p.add_argument("--out", required=True, help="model directory to write (e.g. models/NAME)")
    p.add_argument("--int8", action="store_true", help="dynamic int8 quantization of the graphs")
    p.add_argument("--seed", type=int, default=0, help="seed of the random initialisation (--random)")
    p.add_argument("--robot", help="registry arm of the random model's action layout (--random; default sawyer)")
    p.add_argument("--sp-model", help="SentencePiece model to copy (default: the one gato.json names)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gato_ros.export.build import export_checkpoint, export_random

    if bool(args.checkpoint) == bool(args.random):
        raise SystemExit("gato-ros export: give a CHECKPOINT or --random CONFIG (one of the two)")
    if args.checkpoint and args.robot:
        raise SystemExit("gato-ros export: --robot is for --random; a checkpoint's gato.json already names its robot")
    sp = Path(args.sp_model) if args.sp_model else None
    if args.random:
        out = export_random(args.random, Path(args.out), int8=args.int8, seed=args.seed, sp_model=sp,
                            **({"robot": args.robot} if args.robot else {}))
    else:
        out = export_checkpoint(Path(args.checkpoint), Path(args.out), int8=args.int8, sp_model=sp)
    print(f"wrote {out}: {', '.join(sorted(p.name for p in out.iterdir()))}")
    return 0
