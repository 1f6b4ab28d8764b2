"""Text: the shipped SentencePiece model (ids < 32000, lossless), and its reproducible training command."""

import hashlib
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gato_ros.cli import main as cli_main
from gato_ros.config import default_config
from gato_ros.paths import models_dir
from gato_ros.tokenizer import GatoTokenizer, TextTokenizer
from gato_ros.tokenizer.train_text import DEFAULT_INSTRUCTION, build_corpus, instructions, train_text_model

SHIPPED = models_dir() / "tokenizer"
SENTENCES = [
    DEFAULT_INSTRUCTION, "put the green block onto the blue block, then open the gripper",
    "Gato: mu-law (mu=100, M=256) into 1024 bins; ids 32000..33023", "Ünïcödé 漢字 and emoji 🤖 still encode",
]


def test_shipped_model_ids_below_32000_and_lossless():
    text = TextTokenizer(SHIPPED / "gato_text.model")
    assert 300 <= text.vocab_size <= 1000 < 32000
    for s in SENTENCES:
        ids = text.encode(s)
        assert ids.dtype == np.int64 and len(ids) > 0 and 0 <= ids.min() and ids.max() < 32000
        assert text.decode(ids) == s  # byte fallback: nothing is lost, not even characters never seen
    assert len(text.encode(DEFAULT_INSTRUCTION)) <= 10  # the task's own words are whole pieces


def test_shipped_model_rebuilds_bit_for_bit_from_its_corpus(tmp_path):
    manifest = json.loads((SHIPPED / "gato_text.json").read_text())
    assert cli_main(["tokenizer", "train", "--corpus", str(SHIPPED / "gato_text.corpus.txt"),
                     "--vocab-size", str(manifest["vocab_size_requested"]), "--out", str(tmp_path / "m")]) == 0
    rebuilt = (tmp_path / "m.model").read_bytes()
    assert rebuilt == (SHIPPED / "gato_text.model").read_bytes()
    assert hashlib.sha256(rebuilt).hexdigest() == manifest["model_sha256"]
    assert (tmp_path / "m.vocab").read_text() == (SHIPPED / "gato_text.vocab").read_text()


def test_training_is_deterministic_and_uses_docs(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text("# Zyxquorble\nThe zyxquorble manipulator stacks things.\n")
    (tmp_path / "docs" / "B.md").write_text("second doc\n")
    (tmp_path / "docs" / "A.md").write_text("first doc\n")
    corpus = build_corpus(tmp_path)
    assert corpus[:len(instructions())] == instructions()
    assert corpus[len(instructions()):] == ["# Zyxquorble", "The zyxquorble manipulator stacks things.",
                                             "first doc", "second doc"]
    a = train_text_model(corpus, tmp_path / "a", 400)
    b = train_text_model(corpus, tmp_path / "b", 400)
    assert a.read_bytes() == b.read_bytes()
    assert (tmp_path / "a.corpus.txt").read_text().splitlines() == corpus
    assert build_corpus(None) == instructions()


def test_instruction_paraphrases_are_many_and_unique():
    ins = instructions()
    assert ins[0] == "stack the red object on the blue object"
    assert len(ins) > 1000 and len(set(ins)) == len(ins)
    assert any("green" in s and s.startswith("please") for s in ins)


def test_bad_training_requests(tmp_path, capsys):
    with pytest.raises(ValueError, match="32000"):
        train_text_model(["a b c"], tmp_path / "x", 32000)
    assert cli_main(["tokenizer", "train", "--corpus", str(tmp_path / "none.txt"), "--out", str(tmp_path / "x")]) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match="gato-ros tokenizer train"):
        TextTokenizer(tmp_path / "missing.model")
    (tmp_path / "junk.model").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a SentencePiece model"):
        TextTokenizer(tmp_path / "junk.model")


def test_encode_cli_and_gato_tokenizer_truncation(capsys):
    assert cli_main(["tokenizer", "encode", DEFAULT_INSTRUCTION]) == 0
    ids = [int(i) for i in capsys.readouterr().out.split()]
    tok = GatoTokenizer(default_config())
    assert ids == tok.text.encode(DEFAULT_INSTRUCTION).tolist()
    long = " ".join(["stack the red object on the blue object"] * 20)
    assert len(tok.text_ids(long)) == tok.tok.max_text_tokens == 32


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=60))
def test_property_any_text_encodes_inside_the_text_range(s):
    text = TextTokenizer(SHIPPED / "gato_text.model")
    ids = text.encode(s)
    assert ids.dtype == np.int64 and (len(ids) == 0 or (ids.min() >= 0 and ids.max() < min(32000, text.vocab_size)))
