"""`gato-ros tokenizer train|encode`: the SentencePiece text model shipped in models/tokenizer/."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("tokenizer", help="train or try the SentencePiece text tokenizer")
    tsub = parser.add_subparsers(dest="tokenizer_command", required=True)
    train = tsub.add_parser("train", help="train models/tokenizer/gato_text.model reproducibly")
    train.add_argument("--out", type=Path, default=None, help="output prefix (default models/tokenizer/gato_text)")
    train.add_argument("--vocab-size", type=int, default=512)
    train.set_defaults(func=_train)
    enc = tsub.add_parser("encode", help="print the token ids of a text")
    enc.add_argument("text")
    enc.add_argument("--model", type=Path, default=None)
    enc.set_defaults(func=_encode)


def _train(args: argparse.Namespace) -> int:
    from gato_ros.paths import models_dir, share_dir
    from gato_ros.tokenizer.train_text import train_text_model

    out = args.out or models_dir() / "tokenizer" / "gato_text"
    path = train_text_model(out, share_dir(), args.vocab_size)
    print(f"wrote {path}")
    return 0


def _encode(args: argparse.Namespace) -> int:
    from gato_ros.paths import models_dir
    from gato_ros.tokenizer.text import TextTokenizer

    tok = TextTokenizer(args.model or models_dir() / "tokenizer" / "gato_text.model")
    print(" ".join(str(i) for i in tok.encode(args.text)))
    return 0
