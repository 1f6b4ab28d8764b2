"""GatoTokenizer: the one tokenizer used by training, export, the agent node and the demo reader."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gato_ros.config import GatoConfig
from gato_ros.episode import Episode
from gato_ros.observation import proprio_from_joints
from gato_ros.tokenizer.continuous import detokenize_continuous, tokenize_continuous
from gato_ros.tokenizer.image import image_to_patches, patch_spans, preprocess_image
from gato_ros.tokenizer.sequence import Modality, TokenSequence, block, concat, windows
from gato_ros.tokenizer.text import TextTokenizer


class GatoTokenizer:
    """Observation and action tokens for one gato.json; text needs the SentencePiece model in `model_dir`."""

    def __init__(self, config: GatoConfig, model_dir: str | Path | None = None) -> None:
        self.config = config
        self.vocab = config.vocab
        self.tok = config.tokenizer
        self.action_scale = np.asarray(config.robot.action_scale, dtype=np.float64)
        self.spans = patch_spans(self.tok.image_height, self.tok.image_width, self.tok.patch_size)
        self._model_dir = Path(model_dir) if model_dir is not None else None
        self._text: TextTokenizer | None = None

    @property
    def text(self) -> TextTokenizer:
        """The SentencePiece model, loaded on first use (only episodes with an instruction need it)."""
        if self._text is None:
            from gato_ros.paths import models_dir

            candidates = [self._model_dir / self.tok.text_model] if self._model_dir else []
            candidates.append(models_dir() / self.tok.text_model)
            path = next((p for p in candidates if p.is_file()), candidates[0])
            self._text = TextTokenizer(path, self.vocab.text_size)
        return self._text

    def _continuous(self, x: np.ndarray, mu_law: bool) -> np.ndarray:
        return tokenize_continuous(x, mu_law, self.tok.mu, self.tok.M, self.vocab.num_bins, self.vocab.continuous_offset)

    def observation(self, image: np.ndarray, proprio: np.ndarray, text: str | None = None) -> TokenSequence:
        """One observation block `[text, image patches, proprio, '|']` with local positions 0..n-1."""
        parts = []
        if text:
            ids = self.text.encode(text)[: self.tok.max_text_tokens]
            parts.append(block(ids, Modality.TEXT, self.tok.patch_size))
        img = preprocess_image(image, self.tok.image_size)
        patches = image_to_patches(img, self.tok.patch_size)
        parts.append(block(np.zeros(len(patches), np.int64), Modality.IMAGE, self.tok.patch_size,
                           patches=patches, patch_pos=self.spans))
        proprio = np.asarray(proprio, dtype=np.float64).reshape(-1)
        parts.append(block(self._continuous(proprio, self.tok.proprio_mu_law), Modality.CONTINUOUS, self.tok.patch_size))
        parts.append(block(np.array([self.vocab.separator_id]), Modality.SEPARATOR, self.tok.patch_size))
        seq = concat(parts)
        seq.local_pos = np.arange(len(seq), dtype=np.int64)
        seq.loss_mask = np.where(seq.modality == Modality.TEXT, 1.0, 0.0).astype(np.float32)
        return seq

    def action_ids(self, efforts: np.ndarray) -> np.ndarray:
        """Efforts (raw units) -> ids: divide by action_scale, clip to [-1, 1], bin (no mu-law by default)."""
        e = np.asarray(efforts, dtype=np.float64).reshape(-1)
        if e.shape != self.action_scale.shape:
            raise ValueError(f"expected {len(self.action_scale)} efforts, got {e.shape[0]}")
        scaled = e / self.action_scale
        if not self.tok.action_mu_law:
            scaled = np.clip(scaled, -1.0, 1.0)
        return self._continuous(scaled, self.tok.action_mu_law)

    def actions(self, efforts: np.ndarray) -> TokenSequence:
        return block(self.action_ids(efforts), Modality.ACTION, self.tok.patch_size)

    def decode_action_token(self, index: int, token_id: int) -> float:
        """The effort (raw units) of action dimension `index` from its token id."""
        value = detokenize_continuous(np.array([token_id]), self.tok.action_mu_law, self.tok.mu, self.tok.M,
                                      self.vocab.num_bins, self.vocab.continuous_offset)[0]
        return float(value * self.action_scale[index])

    def decode_actions(self, token_ids: np.ndarray) -> np.ndarray:
        return np.array([self.decode_action_token(i, t) for i, t in enumerate(token_ids)])

    def timestep(self, image: np.ndarray, proprio: np.ndarray, efforts: np.ndarray, t: int,
                 text: str | None = None) -> TokenSequence:
        return concat([self.observation(image, proprio, text), self.actions(efforts)]).with_timestep(t)

    def episode(self, ep: Episode) -> TokenSequence:
        """All timesteps of an episode; the instruction is the text of its first timestep."""
        if len(ep) == 0:
            raise ValueError("cannot tokenize an empty episode")
        steps = []
        for t in range(len(ep)):
            proprio = proprio_from_joints(ep.joint_positions[t], ep.joint_velocities[t])
            steps.append(self.timestep(ep.images[t], proprio, ep.actions[t], t, ep.instruction if t == 0 else None))
        return concat(steps)

    def windows(self, seq: TokenSequence, length: int = 1024) -> list[TokenSequence]:
        return windows(seq, length)

    def with_prompt(self, seq: TokenSequence, prompt_ep: Episode | None, rng: np.random.Generator,
                    length: int = 1024, prompt_prob: float = 0.25) -> TokenSequence:
        from gato_ros.tokenizer.sequence import with_prompt

        prompt = self.episode(prompt_ep) if prompt_ep is not None else None
        return with_prompt(seq, prompt, length, rng, prompt_prob)

    def tokens_per_timestep(self, with_text: int = 0) -> int:
        n_patches = len(self.spans)
        return with_text + n_patches + 15 + 1 + len(self.action_scale)
