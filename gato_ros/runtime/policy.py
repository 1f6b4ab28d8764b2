"""GatoPolicy: the agent's ONNX Runtime policy with a KV cache, a pinned (prefix-cached) prompt and a sliding window.

Each `act` appends one timestep: the previous timestep's last action token and this observation block are
prefilled in one call, then one action token per joint is decoded greedily (value ids only) and fed back.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from gato_ros.runtime.errors import InputShapeError, ModelLoadError
from gato_ros.runtime.kv import KVRunner
from gato_ros.runtime.model_files import check_graphs, graph_meta, load_config
from gato_ros.runtime.providers import open_sessions
from gato_ros.runtime.window import TimestepWindow

LOG = logging.getLogger("gato_ros.runtime")
PROPRIO_DIM = 15
ACTION_MODALITY = 5  # Modality.ACTION (ARCHITECTURE.md)


def _fields(seq: Any, start: int = 0, end: int | None = None) -> tuple[np.ndarray, ...]:
    """(tokens, modality, local_pos, patches, patch_pos) rows [start:end] of a TokenSequence."""
    return tuple(np.asarray(getattr(seq, f))[start:end]
                 for f in ("tokens", "modality", "local_pos", "patches", "patch_pos"))


def _with_action(fields: tuple[np.ndarray, ...], token_id: int, modality: int) -> tuple[np.ndarray, ...]:
    """Prepend one action token (the previous timestep's last) to an observation block."""
    tokens, mod, pos, patches, patch_pos = fields
    return (np.concatenate([[token_id], tokens]).astype(np.int64),
            np.concatenate([[modality], mod]).astype(np.int64),
            np.concatenate([[-1], pos]).astype(np.int64),
            np.concatenate([np.zeros((1, *patches.shape[1:]), np.float32), patches]),
            np.concatenate([np.zeros((1, patch_pos.shape[1]), np.float32), patch_pos]))


class GatoPolicy:
    """Greedy Gato policy over an exported model directory (see `gato-ros export`)."""

    def __init__(self, model_dir: str | Path, provider: str = "auto", max_context_tokens: int = 1024,
                 max_prompt_tokens: int | None = None, threads: int = 0) -> None:
        self.model_dir = Path(model_dir)
        self.config = load_config(self.model_dir)
        self.meta = graph_meta(self.config, self.model_dir)
        (prefill, decode), self.provider = open_sessions(
            [self.model_dir / self.meta.prefill, self.model_dir / self.meta.decode], provider, threads)
        check_graphs(self.meta, prefill, decode, self.model_dir)
        self.tokenizer = self._tokenizer()
        self.n_actions = len(self.config.robot.joint_names)
        self.action_modality = self._action_modality()
        # a model attends no further back than it was trained to: its training window caps the context
        trained = int((self.config.model or {}).get("context_window") or 0)
        self.max_context_tokens = min(int(max_context_tokens), trained) if trained > 0 else int(max_context_tokens)
        self.max_prompt_tokens = int(max_prompt_tokens or self.max_context_tokens // 2)
        self.runner = KVRunner(prefill, decode, self.provider, self.meta.cache_dims, capacity=self.max_context_tokens,
                               n_logits=self.meta.action_vocab_size)
        self.window = TimestepWindow(self.max_context_tokens)
        self._steps = 0  # timesteps acted in this episode
        self._pending: int | None = None  # last action token of the previous timestep, not yet in the cache
        self.last_bins = np.zeros(self.n_actions, np.int64)  # value bins chosen by the last act()
        self.last_logits = np.zeros((self.n_actions, self.meta.action_vocab_size), np.float32)

    def _tokenizer(self) -> Any:
        from gato_ros.tokenizer import GatoTokenizer

        try:
            return GatoTokenizer(self.config, self.model_dir)
        except Exception as exc:
            raise ModelLoadError(f"tokenizer files in {self.model_dir} cannot be loaded: {type(exc).__name__}: {exc}") from exc

    @staticmethod
    def _action_modality() -> int:
        try:
            from gato_ros.tokenizer.sequence import Modality

            return int(Modality.ACTION)
        except ImportError:
            return ACTION_MODALITY

    # ------------------------------------------------------------------ prompt and episodes
    @property
    def context_tokens(self) -> int:
        """Tokens now in the KV cache (prompt included)."""
        return self.runner.length

    @property
    def prompt_tokens(self) -> int:
        return self.window.prompt

    def set_prompt(self, episode: Any | None) -> None:
        """Prefill a demonstration once and pin it at the front of the cache (None: no prompt); resets the episode."""
        self.runner.truncate(0)
        self._pending = None
        self._steps = 0
        if episode is None or len(episode) == 0:
            self.window.set_prompt(0)
            return
        seq = self.tokenizer.episode(episode)
        start, reserve = self._prompt_start(np.asarray(seq.timestep))
        fields = _fields(seq, start)
        self.window.set_prompt(len(fields[0]), reserve=reserve)
        self.runner.prefill(*fields)  # pinned: slots [0, prompt) are never moved, so reset() just truncates
        LOG.info("prompt: %d tokens (%d timesteps dropped from its start)", len(fields[0]),
                 int(np.asarray(seq.timestep)[start]) if start else 0)

    def _prompt_start(self, timestep: np.ndarray) -> tuple[int, int]:
        """First token of the prompt kept: the latest whole timesteps within max_prompt_tokens; and one step's size."""
        change = np.flatnonzero(np.diff(timestep)) + 1
        starts = np.concatenate([[0], change]).astype(int)
        reserve = int(np.max(np.diff(np.concatenate([starts, [len(timestep)]]))))
        budget = min(self.max_prompt_tokens, self.max_context_tokens - reserve)
        for s in starts:
            if len(timestep) - s <= budget:
                return int(s), reserve
        return len(timestep), reserve

    def reset(self) -> None:
        """New episode: the cache goes back to the prefilled prompt."""
        self.runner.truncate(self.window.prompt)
        self.window.reset()
        self._pending = None
        self._steps = 0

    # ------------------------------------------------------------------ control step
    def _check_inputs(self, image: Any, proprio: Any) -> tuple[np.ndarray, np.ndarray]:
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8 or min(image.shape[:2]) < 1:
            raise InputShapeError(f"image must be an HxWx3 uint8 RGB array, got shape {image.shape} dtype {image.dtype}")
        proprio = np.asarray(proprio, dtype=np.float64)
        if proprio.shape != (PROPRIO_DIM,):
            raise InputShapeError(f"proprio must have shape ({PROPRIO_DIM},) (7 arm positions, 7 arm velocities, "
                                  f"gripper position), got {proprio.shape}")
        if not np.all(np.isfinite(proprio)):
            raise InputShapeError(f"proprio has non-finite values: {proprio}")
        return image, proprio

    def act(self, image_rgb_uint8: np.ndarray, proprio: np.ndarray, instruction: str | None = None) -> np.ndarray:
        """Append this timestep and decode one action per joint; returns efforts[n_joints] (float64, raw units)."""
        image, proprio = self._check_inputs(image_rgb_uint8, proprio)
        # As in training (GatoTokenizer.episode), the instruction is text of the episode's first timestep only.
        text = instruction or None if self._steps == 0 else None
        fields = _fields(self.tokenizer.observation(image, proprio, text))
        n_obs = len(fields[0])
        dropped, _ = self.window.evict_for(n_obs + self.n_actions)
        if dropped:
            physical = dropped
            if self._pending is not None and not self.window.steps:
                physical, self._pending = dropped - 1, None  # its timestep went with the eviction
            self.runner.evict(self.window.prompt, self.window.prompt + physical)
        if self._pending is not None:
            fields = _with_action(fields, self._pending, self.action_modality)
        self.window.begin_timestep(n_obs)
        logits = self.runner.prefill(*fields)
        start = self.meta.action_vocab_start
        efforts = np.empty(self.n_actions, np.float64)
        for i in range(self.n_actions):
            self.last_logits[i] = logits
            b = int(np.argmax(logits))
            self.last_bins[i] = b
            efforts[i] = self.tokenizer.decode_action_token(i, start + b)
            self.window.extend(1)
            if i + 1 < self.n_actions:
                logits = self.runner.decode(start + b)
        self._pending = start + int(self.last_bins[-1])
        self._steps += 1
        return efforts
