"""`gato-ros tokenizer train|encode|check`: the SentencePiece text model shipped in models/tokenizer/."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_PREFIX = "tokenizer/gato_text"  # under models_dir()


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("tokenizer", help="train, check or try the SentencePiece text tokenizer")
    tsub = parser.add_subparsers(dest="tokenizer_command", required=True)
    train = tsub.add_parser("train", help="train models/tokenizer/gato_text.model reproducibly")
    train.add_argument("--out", type=Path, default=None,
                       help="output prefix (default models/tokenizer/gato_text); "
                            "writes .model .vocab .corpus.txt .json")
    train.add_argument("--vocab-size", type=int, default=None, help="requested pieces (default 1000)")
    train.add_argument("--corpus", type=Path, default=None,
                       help="train on this saved corpus (one sentence a line) instead of instructions + docs")
    train.set_defaults(func=_train)
    enc = tsub.add_parser("encode", help="print the token ids of a text")
    enc.add_argument("text")
    enc.add_argument("--model", type=Path, default=None)
    enc.set_defaults(func=_encode)


def _train(args: argparse.Namespace) -> int:
    from gato_ros.paths import models_dir, share_dir
    from gato_ros.tokenizer.errors import TokenizerError
    from gato_ros.tokenizer.train_text import DEFAULT_VOCAB_SIZE, build_corpus, read_corpus, train_text_model

    out = args.out or models_dir() / DEFAULT_PREFIX
    try:
        corpus = read_corpus(args.corpus) if args.corpus else build_corpus(share_dir())
        path = train_text_model(corpus, out, args.vocab_size or DEFAULT_VOCAB_SIZE)
    except TokenizerError as exc:
        print(f"gato-ros tokenizer train: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path} ({len(corpus)} sentences)")
    return 0


def _encode(args: argparse.Namespace) -> int:
    from gato_ros.paths import models_dir
    from gato_ros.tokenizer.text import TextTokenizer

    tok = TextTokenizer(args.model or models_dir() / f"{DEFAULT_PREFIX}.model")
    print(" ".join(str(i) for i in tok.encode(args.text)))
    return 0
