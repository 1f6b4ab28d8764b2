"""Text: SentencePiece subwords into [0, 32000)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import sentencepiece as spm

from gato_ros.config import VocabConfig
from gato_ros.tokenizer.errors import TokenizerError

TEXT_VOCAB = VocabConfig.text_size


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
            raise TokenizerError(f"{path} is not a SentencePiece model: {exc}") from exc
        if self.processor.GetPieceSize() > text_size:
            raise TokenizerError(f"{path} has {self.processor.GetPieceSize()} pieces; "
                                 f"text ids must stay below {text_size}")
        self.path = path

    @property
    def vocab_size(self) -> int:
        return int(self.processor.GetPieceSize())

    def encode(self, text: str) -> np.ndarray:
        """Subword ids of `text` (int64, all in [0, vocab_size))."""
        if not isinstance(text, str):
            raise TokenizerError(f"text must be a str, got {type(text).__name__}")
        return np.asarray(self.processor.EncodeAsIds(text), dtype=np.int64)

    def decode(self, ids: np.ndarray) -> str:
        """Text of subword ids (inverse of `encode`)."""
        return self.processor.DecodeIds([int(i) for i in ids])
