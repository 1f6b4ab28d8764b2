"""GatoTokenizer: the one tokenizer used by training, export, the agent node and the demo reader."""

from __future__ import annotations

import operator
from pathlib import Path

import numpy as np

from gato_ros.config import GatoConfig
from gato_ros.episode import Episode
from gato_ros.observation import PROPRIO_SIZE, proprio_from_joints
from gato_ros.tokenizer.continuous import detokenize_continuous, tokenize_continuous
from gato_ros.tokenizer.errors import TokenizerError
from gato_ros.tokenizer.image import image_to_patches, patch_spans, preprocess_image
from gato_ros.tokenizer.sequence import Modality, TokenSequence, block, concat, windows, with_prompt
from gato_ros.tokenizer.text import TextTokenizer


class GatoTokenizer:
    """Observation and action tokens for one gato.json; text needs the SentencePiece model (loaded lazily)."""

    def __init__(self, config: GatoConfig, model_dir: str | Path | None = None) -> None:
        self.config = config
        self.vocab = config.vocab
        self.tok = config.tokenizer
        self.action_scale = np.asarray(config.robot.action_scale, dtype=np.float64)
        self.spans = patch_spans(self.tok.image_height, self.tok.image_width, self.tok.patch_size)
        self._model_dir = Path(model_dir) if model_dir is not None else None
        self._text: TextTokenizer | None = None

    @property
    def text_model_path(self) -> Path:
        """`model_dir/text_model` when that file exists, else the shipped `models_dir()/text_model`."""
        from gato_ros.paths import models_dir

        candidates = [self._model_dir / self.tok.text_model] if self._model_dir else []
        candidates.append(models_dir() / self.tok.text_model)
        return next((p for p in candidates if p.is_file()), candidates[0])

    @property
    def text(self) -> TextTokenizer:
        """The SentencePiece model, loaded on first use (only episodes with an instruction need it)."""
        if self._text is None:
            self._text = TextTokenizer(self.text_model_path, self.vocab.text_size)
        return self._text

    @property
    def num_actions(self) -> int:
        return len(self.action_scale)

    def _continuous(self, x: np.ndarray, mu_law: bool) -> np.ndarray:
        try:
            return tokenize_continuous(x, mu_law, self.tok.mu, self.tok.M, self.vocab.num_bins,
                                       self.vocab.continuous_offset)
        except ValueError as exc:
            raise TokenizerError(str(exc)) from exc

    def text_ids(self, text: str) -> np.ndarray:
        """SentencePiece ids of `text`, truncated to `max_text_tokens`."""
        if not isinstance(text, str):
            raise TokenizerError(f"text must be a str, got {type(text).__name__}")
        return self.text.encode(text)[: self.tok.max_text_tokens]

    def observation(self, image: np.ndarray, proprio: np.ndarray, text: str | None = None) -> TokenSequence:
        """One observation block `[text, image patches, proprio, '|']` with local positions 0..n-1."""
        parts = []
        if text:
            parts.append(block(self.text_ids(text), Modality.TEXT, self.tok.patch_size))
        try:
            img = preprocess_image(image, self.tok.image_size)
        except ValueError as exc:
            raise TokenizerError(str(exc)) from exc
        patches = image_to_patches(img, self.tok.patch_size)
        parts.append(block(np.zeros(len(patches), np.int64), Modality.IMAGE, self.tok.patch_size,
                           patches=patches, patch_pos=self.spans))
        proprio = np.asarray(proprio, dtype=np.float64).reshape(-1)
        if proprio.shape != (PROPRIO_SIZE,):
            raise TokenizerError(f"proprio must have {PROPRIO_SIZE} values (gato_ros.observation.proprio_from_joints),"
                                 f" got {proprio.shape[0]}")
        parts.append(block(self._continuous(proprio, self.tok.proprio_mu_law), Modality.CONTINUOUS,
                           self.tok.patch_size))
        parts.append(block(np.array([self.vocab.separator_id]), Modality.SEPARATOR, self.tok.patch_size))
        seq = concat(parts)
        seq.local_pos = np.arange(len(seq), dtype=np.int64)
        return seq

    def action_ids(self, efforts: np.ndarray) -> np.ndarray:
        """Efforts (raw units) -> ids: divide by action_scale, clip to [-1, 1], bin (no mu-law by default)."""
        e = np.asarray(efforts, dtype=np.float64).reshape(-1)
        if e.shape != self.action_scale.shape:
            raise TokenizerError(f"expected {len(self.action_scale)} efforts (robot.joint_names order), "
                                 f"got {e.shape[0]}")
        scaled = e / self.action_scale
        if not self.tok.action_mu_law:
            scaled = np.clip(scaled, -1.0, 1.0)
        return self._continuous(scaled, self.tok.action_mu_law)

    def actions(self, efforts: np.ndarray) -> TokenSequence:
        """The action block: one ACTION token per joint, with loss, local position -1."""
        return block(self.action_ids(efforts), Modality.ACTION, self.tok.patch_size)

    def decode_action_token(self, index: int, token_id: int) -> float:
        """The effort (raw units) of action dimension `index` from its token id (bin centre x action_scale)."""
        try:
            tid = operator.index(token_id)
        except TypeError as exc:
            raise TokenizerError(f"action token id must be an integer, got {token_id!r}") from exc
        if not 0 <= index < len(self.action_scale):
            raise TokenizerError(f"action index {index} outside [0, {len(self.action_scale)})")
        try:
            value = detokenize_continuous(np.array([tid], np.int64), self.tok.action_mu_law, self.tok.mu, self.tok.M,
                                          self.vocab.num_bins, self.vocab.continuous_offset)[0]
        except ValueError as exc:
            raise TokenizerError(f"action {index}: {exc}") from exc
        return float(value * self.action_scale[index])

    def decode_actions(self, token_ids: np.ndarray) -> np.ndarray:
        """All action dimensions of one timestep from their token ids."""
        ids = np.asarray(token_ids).reshape(-1)
        if len(ids) != len(self.action_scale):
            raise TokenizerError(f"expected {len(self.action_scale)} action tokens, got {len(ids)}")
        return np.array([self.decode_action_token(i, t) for i, t in enumerate(ids)])

    def timestep(self, image: np.ndarray, proprio: np.ndarray, efforts: np.ndarray, t: int,
                 text: str | None = None) -> TokenSequence:
        """Observation block then action block, all tagged with timestep `t`."""
        return concat([self.observation(image, proprio, text), self.actions(efforts)]).with_timestep(t)

    def episode(self, ep: Episode) -> TokenSequence:
        """All timesteps of an episode; the instruction is the text of its first timestep."""
        if len(ep) == 0:
            raise TokenizerError("cannot tokenize an empty episode")
        if tuple(ep.joint_names) != tuple(self.config.robot.joint_names):
            raise TokenizerError(f"episode joints {list(ep.joint_names)} differ from gato.json robot.joint_names "
                                 f"{list(self.config.robot.joint_names)}")
        steps = []
        for t in range(len(ep)):
            proprio = proprio_from_joints(ep.joint_positions[t], ep.joint_velocities[t])
            steps.append(self.timestep(ep.images[t], proprio, ep.actions[t], t, ep.instruction if t == 0 else None))
        return concat(steps)

    def windows(self, seq: TokenSequence, length: int = 1024) -> list[TokenSequence]:
        """Consecutive windows of whole timesteps, each at most `length` tokens."""
        return windows(seq, length)

    def with_prompt(self, seq: TokenSequence, prompt_ep: Episode | TokenSequence | None, rng: np.random.Generator,
                    length: int = 1024, prompt_prob: float = 0.25, prompt_tokens: int = 256) -> TokenSequence:
        """Prompt conditioning (see `sequence.with_prompt`); `prompt_ep` is another episode of the same task."""
        prompt = self.episode(prompt_ep) if isinstance(prompt_ep, Episode) else prompt_ep
        return with_prompt(seq, prompt, length, rng, prompt_prob, prompt_tokens)

    def tokens_per_timestep(self, with_text: int = 0) -> int:
        """Tokens in one timestep (plus `with_text` instruction tokens)."""
        return with_text + len(self.spans) + PROPRIO_SIZE + 1 + len(self.action_scale)
