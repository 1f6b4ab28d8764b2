"""Reproducible SentencePiece training from text the repo makes (task instructions) and has (docs, README).

`build_corpus(root)` gathers the lines in a fixed order; `train_text_model(corpus, out_prefix)` trains a
unigram model on them with one thread and no shuffling, so the same corpus always gives the same bytes.
The corpus is saved next to the model (`<prefix>.corpus.txt`) so the shipped model can be rebuilt exactly
even after the docs change: `gato-ros tokenizer train --corpus models/tokenizer/gato_text.corpus.txt`.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
from pathlib import Path

import sentencepiece as spm

from gato_ros.config import VocabConfig
from gato_ros.tokenizer.errors import TokenizerError

DEFAULT_INSTRUCTION = "stack the red object on the blue object"
DEFAULT_VOCAB_SIZE = 1000
MAX_TEXT_VOCAB = VocabConfig.text_size
COLOURS = ("red", "green", "blue")
VERBS = ("stack", "put", "place", "set", "move", "lift and place", "pick up and put", "grasp and put")
NOUNS = ("object", "block", "piece", "item", "shape", "cube", "one")
PREPOSITIONS = ("on", "on top of", "onto", "above", "upon")
FRAMES = ("{}", "please {}", "{} please", "can you {}", "now {}", "{}, then release it", "carefully {}",
          "your task: {}", "try to {}")
SKILLS = (
    "open the gripper", "close the gripper", "release the object", "hold the arm still", "return to the home pose",
    "move the arm above the basket", "reach for the red object", "grasp the red object", "lift the red object",
    "lower the red object onto the blue object", "align the red object over the blue object",
    "let go of the red object", "do not touch the green object", "push the green object out of the way",
    "the red object is on the blue object", "the task succeeded", "the task failed", "try again",
)


def instructions() -> list[str]:
    """Paraphrases of the RGB Stacking task (red on blue first) and its variants, in a fixed order."""
    out = [DEFAULT_INSTRUCTION]
    pairs = [(a, b) for a, b in itertools.product(COLOURS, COLOURS) if a != b]
    for i, (verb, (a, b), noun, prep) in enumerate(itertools.product(VERBS, pairs, NOUNS, PREPOSITIONS)):
        out.append(FRAMES[i % len(FRAMES)].format(f"{verb} the {a} {noun} {prep} the {b} {noun}"))
    out += list(SKILLS)
    return out


def doc_lines(root: Path) -> list[str]:
    """Non-empty lines of `README.md` and `docs/*.md` under `root` (sorted by name; missing files skipped)."""
    files = [root / "README.md"] + sorted((root / "docs").glob("*.md"))
    lines: list[str] = []
    for f in files:
        if f.is_file():
            lines += [ln.strip() for ln in f.read_text(encoding="utf-8").splitlines() if ln.strip()]
    return lines


def build_corpus(root: Path | None) -> list[str]:
    """Generated instructions, then the repo's docs when `root` (the source tree) is given."""
    return instructions() + (doc_lines(root) if root is not None else [])


def read_corpus(path: Path) -> list[str]:
    """A saved corpus: one sentence per line."""
    if not Path(path).is_file():
        raise TokenizerError(f"corpus file {path} does not exist")
    return [ln for ln in Path(path).read_text(encoding="utf-8").splitlines() if ln.strip()]


def train_text_model(corpus: list[str], out_prefix: Path, vocab_size: int = DEFAULT_VOCAB_SIZE) -> Path:
    """Train a unigram model (byte fallback, one thread, no shuffling) and write .model, .vocab, .corpus.txt, .json."""
    if not 300 <= vocab_size < MAX_TEXT_VOCAB:  # byte fallback alone takes 256 + 1 pieces
        raise TokenizerError(f"text vocab_size must be in [300, {MAX_TEXT_VOCAB}), got {vocab_size}")
    if not corpus:
        raise TokenizerError("empty text corpus")
    out_prefix = Path(out_prefix)
    out_prefix.parent.mkdir(parents=True, exist_ok=True)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus), model_writer=model, vocab_size=vocab_size, model_type="unigram",
        character_coverage=1.0, hard_vocab_limit=False, num_threads=1, shuffle_input_sentence=False,
        input_sentence_size=0, max_sentence_length=16384, bos_id=-1, eos_id=-1, unk_id=0, pad_id=-1,
        byte_fallback=True, minloglevel=2,
    )
    proto = model.getvalue()
    proc = spm.SentencePieceProcessor(model_proto=proto)
    if proc.GetPieceSize() >= MAX_TEXT_VOCAB:
        raise TokenizerError(f"trained model has {proc.GetPieceSize()} pieces; text ids must stay below "
                             f"{MAX_TEXT_VOCAB}")
    path = Path(f"{out_prefix}.model")
    path.write_bytes(proto)
    vocab = "\n".join(f"{proc.IdToPiece(i)}\t{proc.GetScore(i):g}" for i in range(proc.GetPieceSize()))
    Path(f"{out_prefix}.vocab").write_text(vocab + "\n", encoding="utf-8")
    text = "\n".join(corpus) + "\n"
    Path(f"{out_prefix}.corpus.txt").write_text(text, encoding="utf-8")
    manifest = {
        "pieces": proc.GetPieceSize(), "vocab_size_requested": vocab_size, "sentences": len(corpus),
        "corpus_sha256": hashlib.sha256(text.encode()).hexdigest(), "model_sha256": hashlib.sha256(proto).hexdigest(),
        "sentencepiece": spm.__version__,
        "rebuild": f"gato-ros tokenizer train --corpus PREFIX.corpus.txt --vocab-size {vocab_size} --out PREFIX",
    }
    Path(f"{out_prefix}.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return path
