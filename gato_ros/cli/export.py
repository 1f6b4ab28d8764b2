"""`gato-ros export CHECKPOINT --out models/NAME [--precision int8]`, `gato-ros export MODEL_DIR --out DIR --precision
int8` (quantize a trained fp32 model directory) or `gato-ros export --random tiny --out DIR`."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    from gato_ros.config import PRECISIONS

    p = subparsers.add_parser("export", help="export a checkpoint (or a random model) to an ONNX model directory, or "
                                             "quantize an fp32 model directory")
    p.add_argument("checkpoint", nargs="?", help="checkpoint written by `gato-ros train`, or an fp32 model directory "
                                                 "to quantize (with --precision)")
    p.add_argument("--random", metavar="CONFIG", help="export a randomly initialised model of this config instead")
    p.add_argument("--out", required=True, help="model directory to write (e.g. models/NAME)")
    p.add_argument("--precision", choices=PRECISIONS, default="fp32",
                   help="weights of the graphs: fp32; int8 (dynamic int8 MatMuls); int4 (4-bit decode weights, "
                        "int8 prefill); docs/RUNTIME.md, 'Precision'")
    p.add_argument("--int8", action="store_true", help="the same as --precision int8")
    p.add_argument("--seed", type=int, default=0, help="seed of the random initialisation (--random)")
    p.add_argument("--robot", help="registry arm of the random model's action layout (--random; default sawyer)")
    p.add_argument("--sp-model", help="SentencePiece model to copy (default: the one gato.json names)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gato_ros.export.onnx_export import ExportError
    from gato_ros.runtime.errors import ModelLoadError

    if bool(args.checkpoint) == bool(args.random):
        raise SystemExit("gato-ros export: give a CHECKPOINT (or MODEL_DIR) or --random CONFIG (one of the two)")
    if args.checkpoint and args.robot:
        raise SystemExit("gato-ros export: --robot is for --random; a checkpoint's gato.json already names its robot")
    if args.int8 and args.precision not in ("fp32", "int8"):
        raise SystemExit(f"gato-ros export: --int8 contradicts --precision {args.precision}")
    precision = "int8" if args.int8 else args.precision
    if args.checkpoint and Path(args.checkpoint).is_dir() and precision == "fp32":
        raise SystemExit("gato-ros export: a model directory is only re-exported quantized: add --precision int8 "
                         "or int4")
    try:
        out = _export(args, precision)
    except (ExportError, ModelLoadError) as exc:
        raise SystemExit(f"gato-ros export: {exc}") from exc
    print(f"wrote {out}: {', '.join(sorted(p.name for p in out.iterdir()))}")
    return 0


def _export(args: argparse.Namespace, precision: str) -> Path:
    """The model directory written: from a random config, an fp32 model directory or a checkpoint."""
    from gato_ros.export.build import export_checkpoint, export_random
    from gato_ros.export.onnx_export import requantize_model_dir

    sp = Path(args.sp_model) if args.sp_model else None
    if args.random:
        return export_random(args.random, Path(args.out), precision=precision, seed=args.seed, sp_model=sp,
                             **({"robot": args.robot} if args.robot else {}))
    if Path(args.checkpoint).is_dir():
        return requantize_model_dir(Path(args.checkpoint), Path(args.out), precision)
    return export_checkpoint(Path(args.checkpoint), Path(args.out), precision=precision, sp_model=sp)
