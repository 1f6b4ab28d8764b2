"""Reproducible SentencePiece training from text the repo makes (task instructions) and has (docs)."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import sentencepiece as spm

OBJECTS = ("red", "green", "blue")
VERBS = ("put", "place", "stack", "set", "move", "lift and place", "pick up and put")
SHAPES = ("object", "block", "piece", "item", "shape")
TARGETS = ("on top of", "on", "onto", "above")
DEFAULT_INSTRUCTION = "stack the red object on the blue object"


def instructions() -> list[str]:
    """Paraphrases of the RGB Stacking task and its variants, in a fixed order."""
    out = [DEFAULT_INSTRUCTION]
    for verb, a, shape, prep, b in itertools.product(VERBS, OBJECTS, SHAPES, TARGETS, OBJECTS):
        if a != b:
            out.append(f"{verb} the {a} {shape} {prep} the {b} {shape}")
    out += ["open the gripper", "close the gripper", "move the arm above the basket", "release the object",
            "grasp the red object", "lift the red object", "hold the arm still", "return to the home pose"]
    return out


def corpus(root: Path | None = None) -> list[str]:
    """Generated instructions plus `models/tokenizer/extra_text.txt` if present (kept fixed so ids never drift)."""
    lines = instructions()
    extra = (root / "models" / "tokenizer" / "extra_text.txt") if root else None
    if extra is not None and extra.is_file():
        lines += [ln.strip() for ln in extra.read_text().splitlines() if ln.strip()]
    return lines


def train_text_model(out_prefix: Path, root: Path, vocab_size: int = 512) -> Path:
    """Train a unigram SentencePiece model (single thread, fixed seed) and write `<prefix>.model/.vocab`."""
    if vocab_size >= 32000:
        raise ValueError("text vocabulary must stay below 32000 ids")
    out_prefix.parent.mkdir(parents=True, exist_ok=True)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus(root)), model_writer=model, vocab_size=vocab_size,
        model_type="unigram", character_coverage=1.0, hard_vocab_limit=False, num_threads=1,
        shuffle_input_sentence=False, bos_id=-1, eos_id=-1, unk_id=0, pad_id=-1,
        minloglevel=2, byte_fallback=True,
    )
    path = out_prefix.with_suffix(".model")
    path.write_bytes(model.getvalue())
    proc = spm.SentencePieceProcessor(model_proto=model.getvalue())
    vocab = "\n".join(f"{proc.IdToPiece(i)}\t{proc.GetScore(i):g}" for i in range(proc.GetPieceSize()))
    out_prefix.with_suffix(".vocab").write_text(vocab + "\n")
    return path
