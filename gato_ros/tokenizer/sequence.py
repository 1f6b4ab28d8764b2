"""Sequencing: timesteps `[image patches, proprio, objects, '|', actions]`, windows, prompts and batches."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from gato_ros.config import VocabConfig


class Modality(IntEnum):
    """Per-token tag; the model embeds by it and the loss mask follows from it."""

    TEXT = 0
    IMAGE = 1
    DISCRETE = 2
    CONTINUOUS = 3
    SEPARATOR = 4
    ACTION = 5
    PAD = 6


LOSS_MODALITIES = (Modality.TEXT, Modality.ACTION)  # m(b, l) = 1 only for text and actions
FIELDS = ("tokens", "modality", "local_pos", "patches", "patch_pos", "loss_mask", "timestep")


@dataclass
class TokenSequence:
    """Parallel per-token arrays; image tokens carry their pixels in `patches` (their `tokens` entry is 0)."""

    tokens: np.ndarray  # int64 [L]
    modality: np.ndarray  # int8 [L]
    local_pos: np.ndarray  # int64 [L]: index in the observation block; action: its dimension; -1 text/pad
    patches: np.ndarray  # float32 [L, 3, p, p]
    patch_pos: np.ndarray  # float32 [L, 4]: row0, row1, col0, col1 in [0, 1]
    loss_mask: np.ndarray  # float32 [L]
    timestep: np.ndarray  # int64 [L]

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def is_image(self) -> np.ndarray:
        """bool [L]: the image-patch tokens (their pixels are in `patches`)."""
        return self.modality == int(Modality.IMAGE)

    def __getitem__(self, index: slice) -> "TokenSequence":
        if not isinstance(index, slice):
            raise TypeError("TokenSequence supports slicing only")
        return TokenSequence(*(getattr(self, f)[index] for f in FIELDS))

    def with_timestep(self, t: int) -> "TokenSequence":
        return TokenSequence(self.tokens, self.modality, self.local_pos, self.patches, self.patch_pos,
                             self.loss_mask, np.full(len(self), t, dtype=np.int64))

    def without_loss(self) -> "TokenSequence":
        return TokenSequence(self.tokens, self.modality, self.local_pos, self.patches, self.patch_pos,
                             np.zeros_like(self.loss_mask), self.timestep)

    def timestep_starts(self) -> np.ndarray:
        """Indices where a new timestep begins (the first token and every change of `timestep`)."""
        if len(self) == 0:
            return np.zeros(0, dtype=np.int64)
        change = np.flatnonzero(np.diff(self.timestep) != 0) + 1
        return np.concatenate([[0], change]).astype(np.int64)


def block(tokens: np.ndarray, modality: Modality | np.ndarray, patch: int, local_pos: np.ndarray | None = None,
          patches: np.ndarray | None = None, patch_pos: np.ndarray | None = None) -> TokenSequence:
    """A TokenSequence for one run of tokens of one modality (or per-token modalities)."""
    n = len(tokens)
    mod = np.full(n, int(modality), dtype=np.int8) if np.isscalar(modality) or isinstance(modality, Modality) \
        else np.asarray(modality, dtype=np.int8)
    loss = np.isin(mod, [int(m) for m in LOSS_MODALITIES]).astype(np.float32)
    return TokenSequence(
        tokens=np.asarray(tokens, dtype=np.int64),
        modality=mod,
        local_pos=np.full(n, -1, dtype=np.int64) if local_pos is None else np.asarray(local_pos, dtype=np.int64),
        patches=np.zeros((n, 3, patch, patch), np.float32) if patches is None else patches.astype(np.float32),
        patch_pos=np.zeros((n, 4), np.float32) if patch_pos is None else patch_pos.astype(np.float32),
        loss_mask=loss,
        timestep=np.zeros(n, dtype=np.int64),
    )


def concat(seqs: list[TokenSequence]) -> TokenSequence:
    if not seqs:
        raise ValueError("cannot concatenate zero token sequences")
    return TokenSequence(*(np.concatenate([getattr(s, f) for s in seqs]) for f in FIELDS))


def windows(seq: TokenSequence, length: int = 1024) -> list[TokenSequence]:
    """Consecutive non-overlapping windows of whole timesteps, each at most `length` tokens, covering `seq`."""
    if length <= 0:
        raise ValueError(f"window length must be positive, got {length}")
    starts = list(seq.timestep_starts()) + [len(seq)]
    out: list[TokenSequence] = []
    begin = 0
    for i in range(1, len(starts)):
        if starts[i] - starts[i - 1] > length:
            raise ValueError(f"a single timestep has {starts[i] - starts[i - 1]} tokens, more than the window {length}")
        if starts[i] - begin > length:
            out.append(seq[begin:starts[i - 1]])
            begin = starts[i - 1]
    if begin < len(seq):
        out.append(seq[begin:])
    return out


def random_window(seq: TokenSequence, length: int, rng: np.random.Generator, within: int | None = None
                  ) -> TokenSequence:
    """A window of whole timesteps starting at a uniformly chosen timestep (among the first `within` if given), at
    most `length` tokens."""
    starts = seq.timestep_starts()
    begin = int(starts[rng.integers(min(within, len(starts)) if within else len(starts))])
    ends = np.concatenate([starts[1:], [len(seq)]])
    fit = ends[(ends - begin <= length) & (ends > begin)]
    if len(fit) == 0:
        raise ValueError(f"a single timestep is longer than the window {length}")
    return seq[begin:int(fit.max())]


def prompt_slice(prompt: TokenSequence, budget: int, rng: np.random.Generator) -> TokenSequence:
    """Whole timesteps of `prompt` within `budget` tokens: half the time its end (goal), else a uniform slice."""
    starts = prompt.timestep_starts()
    ends = np.concatenate([starts[1:], [len(prompt)]])
    if rng.random() < 0.5:  # goal conditioning: the last timesteps of the demonstration
        ok = starts[len(prompt) - starts <= budget]
        return prompt[int(ok.min()):] if len(ok) else prompt[0:0]
    first = int(rng.integers(len(starts)))
    fit = ends[(ends - starts[first] <= budget) & (ends > starts[first])]
    return prompt[int(starts[first]):int(fit.max())] if len(fit) else prompt[0:0]


def with_prompt(seq: TokenSequence, prompt: TokenSequence | None, length: int, rng: np.random.Generator,
                prompt_prob: float = 0.25, prompt_tokens: int = 256,
                instruction: TokenSequence | None = None, within: int | None = None) -> TokenSequence:
    """A training window laid out like the runtime's context: [prompt][instruction][whole timesteps of `seq`].

    With probability `prompt_prob` a loss-free prompt of whole timesteps of a same-task episode comes first (at
    most min(prompt_tokens, length // 2) tokens); the episode's instruction block (if any) follows, then a random
    window of `seq` fills the rest (starting among its first `within` timesteps if given), so the total fits
    `length`. Deterministic for a seeded `rng`.
    """
    head: list[TokenSequence] = []
    if prompt is not None and len(prompt) and rng.random() < prompt_prob:
        head.append(prompt_slice(prompt, min(prompt_tokens, length // 2), rng).without_loss().with_timestep(-1))
    if instruction is not None and len(instruction):
        head.append(instruction)
    n_head = sum(len(h) for h in head)
    body = random_window(seq, length - n_head, rng, within)
    return concat([*head, body]) if n_head else body


def collate(seqs: list[TokenSequence], length: int | None = None, pad_id: int = VocabConfig.pad_id) -> dict:
    """Stack sequences into torch tensors [B, L], right-padded with PAD tokens that carry no loss."""
    import torch

    if not seqs:
        raise ValueError("cannot collate an empty batch")
    length = length or max(len(s) for s in seqs)
    if any(len(s) > length for s in seqs):
        raise ValueError(f"a sequence is longer than the batch length {length}")
    b = len(seqs)
    p = seqs[0].patches.shape[-1]
    out = {
        "tokens": np.full((b, length), pad_id, np.int64),
        "modality": np.full((b, length), int(Modality.PAD), np.int64),
        "local_pos": np.full((b, length), -1, np.int64),
        "patches": np.zeros((b, length, 3, p, p), np.float32),
        "patch_pos": np.zeros((b, length, 4), np.float32),
        "loss_mask": np.zeros((b, length), np.float32),
        "timestep": np.full((b, length), -1, np.int64),
    }
    for i, s in enumerate(seqs):
        n = len(s)
        for f in FIELDS:
            if f != "patches" or s.is_image.any():  # patches are zero elsewhere: skip the copy
                out[f][i, :n] = getattr(s, f)
    return {k: torch.from_numpy(v) for k, v in out.items()}

