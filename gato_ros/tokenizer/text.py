"""Text: SentencePiece subwords into [0, 32000)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import sentencepiece as spm

TEXT_VOCAB = 32000


class TextTokenizer:
    """A SentencePiece model whose ids are guaranteed to fall inside the text range [0, 32000)."""

    def __init__(self, model_path: str | Path, text_size: int = TEXT_VOCAB) -> None:
        path = Path(model_path)
        if not path.is_file():
            raise FileNotFoundError(f"SentencePiece model {path} is missing (make one with `gato-ros tokenizer train`)")
        self.processor = spm.SentencePieceProcessor()
        try:
            self.processor.LoadFromSerializedProto(path.read_bytes())
        except Exception as exc:
            raise ValueError(f"{path} is not a SentencePiece model: {exc}") from exc
        if self.processor.GetPieceSize() > text_size:
            raise ValueError(f"{path} has {self.processor.GetPieceSize()} pieces; text ids must stay below {text_size}")
        self.path = path

    @property
    def vocab_size(self) -> int:
        return int(self.processor.GetPieceSize())

    def encode(self, text: str) -> np.ndarray:
        return np.asarray(self.processor.EncodeAsIds(text), dtype=np.int64)

    def decode(self, ids: np.ndarray) -> str:
        return self.processor.DecodeIds([int(i) for i in ids])
