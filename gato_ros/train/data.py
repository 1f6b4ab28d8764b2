"""The training mixture: demo bags and text tokenized once, sampled by dataset weight into windows."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from gato_ros.demos.bag import DemoError, list_episodes, read_episode
from gato_ros.tokenizer import GatoTokenizer, Modality, TokenSequence, random_window, with_prompt
from gato_ros.tokenizer.sequence import block
from gato_ros.train.config import DatasetConfig

LOG = logging.getLogger(__name__)


@dataclass
class Source:
    """One dataset of the mixture, tokenized: sequences, and which of them may serve as prompts."""

    config: DatasetConfig
    sequences: list[TokenSequence]
    instructions: list[TokenSequence | None]  # per sequence: its instruction block (control data) or None
    prompt_ids: list[int]
    tokens: int
    control: bool


def compact(seq: TokenSequence) -> TokenSequence:
    """Store patches as float16 (half the memory; collate restores float32). Patch values are
    (pixel/127.5 - 1)/4 in [-0.25, 0.25], where float16 resolves every one of the 256 pixel levels.
    A sequence without images keeps one zero patch broadcast over its tokens (no memory per token)."""
    if (seq.modality == int(Modality.IMAGE)).any():
        seq.patches = seq.patches.astype(np.float16)
    else:
        seq.patches = np.broadcast_to(np.zeros((1, *seq.patches.shape[1:]), np.float16), seq.patches.shape)
    return seq


def load_control(cfg: DatasetConfig, tok: GatoTokenizer, progress: bool = True) -> Source:
    """Read and tokenize every episode under the dataset's paths; unreadable bags are reported and skipped."""
    dirs: list[Path] = []
    for root in cfg.paths:
        dirs += list_episodes(root)
    if not dirs:
        raise DemoError(f"dataset {cfg.name}: no demo bags under {list(cfg.paths)}")
    seqs, instructions, prompts = [], [], []
    for d in tqdm(dirs, desc=f"tokenize {cfg.name}", disable=not progress, unit="ep"):
        try:
            ep = read_episode(d)
        except DemoError as exc:
            LOG.warning("skipping %s: %s", d, exc)
            continue
        if ep.success or not cfg.only_successful_prompts:
            prompts.append(len(seqs))
        seqs.append(compact(tok.episode(ep)))
        instructions.append(tok.instruction(ep.instruction))
    if not seqs:
        raise DemoError(f"dataset {cfg.name}: none of {len(dirs)} bags could be read")
    return Source(cfg, seqs, instructions, prompts, sum(len(s) for s in seqs), True)


def load_text(cfg: DatasetConfig, tok: GatoTokenizer) -> Source:
    """Each non-empty line of the text files is one document of TEXT tokens (all with loss)."""
    seqs = []
    for f in cfg.text_files:
        for line in Path(f).read_text().splitlines():
            if line.strip():
                ids = tok.text.encode(line.strip())
                seq = block(ids, Modality.TEXT, tok.tok.patch_size)
                seq.timestep = np.arange(len(ids), dtype=np.int64)  # any token may start a window
                seqs.append(seq)
    if not seqs:
        raise ValueError(f"dataset {cfg.name}: no text in {list(cfg.text_files)}")
    return Source(cfg, seqs, [None] * len(seqs), [], sum(len(s) for s in seqs), False)


class Mixture:
    """Samples training sequences: a dataset by weight, an episode uniformly, a window laid out like the runtime's
    context ([prompt, maybe][instruction][whole timesteps]). With probability `start_prob` a control window starts
    within its episode's first `start_steps` timesteps (the arm at rest, where the task is decided). With
    `obs_jitter_bins` > 0 every continuous observation token moves by a rounded N(0, obs_jitter_bins) number of
    bins within `value_range` (actions and the loss targets are untouched): neighbouring bins get trained, so
    states a little off the demos do not land on embedding rows no demo ever reached."""

    def __init__(self, sources: list[Source], seq_len: int, prompt_prob: float, prompt_tokens: int, seed: int,
                 start_prob: float = 0.0, start_steps: int = 10, obs_jitter_bins: float = 0.0,
                 value_range: tuple[int, int] = (0, 0)) -> None:
        self.sources = sources
        w = np.array([s.config.weight for s in sources], dtype=np.float64)
        self.weights = w / w.sum()
        self.seq_len, self.prompt_prob, self.prompt_tokens = seq_len, prompt_prob, prompt_tokens
        self.start_prob, self.start_steps = start_prob, start_steps
        if obs_jitter_bins < 0 or (obs_jitter_bins > 0 and value_range[1] <= value_range[0]):
            raise ValueError(f"obs_jitter_bins must be >= 0 with a value range, got {obs_jitter_bins}, {value_range}")
        self.obs_jitter_bins, self.value_range = obs_jitter_bins, value_range
        self.rng = np.random.default_rng(seed)

    def sample(self) -> TokenSequence:
        src = self.sources[int(self.rng.choice(len(self.sources), p=self.weights))]
        i = int(self.rng.integers(len(src.sequences)))
        seq = src.sequences[i]
        if not src.control:
            return random_window(seq, self.seq_len, self.rng)
        others = [j for j in src.prompt_ids if j != i]
        prompt = src.sequences[int(self.rng.choice(others))] if others else None
        early = self.start_prob > 0 and self.rng.random() < self.start_prob  # no draw when off: old runs replay
        window = with_prompt(seq, prompt, self.seq_len, self.rng, self.prompt_prob, self.prompt_tokens,
                             src.instructions[i], self.start_steps if early else None)
        return self.jitter(window) if self.obs_jitter_bins > 0 else window

    def jitter(self, window: TokenSequence) -> TokenSequence:
        """The window with its continuous observation tokens moved by Gaussian bin offsets (a copy)."""
        obs = np.flatnonzero(window.modality == int(Modality.CONTINUOUS))
        tokens = window.tokens.copy()
        step = np.rint(self.rng.normal(0.0, self.obs_jitter_bins, len(obs))).astype(np.int64)
        tokens[obs] = np.clip(tokens[obs] + step, self.value_range[0], self.value_range[1] - 1)
        return replace(window, tokens=tokens)

    def batch(self, size: int) -> list[TokenSequence]:
        return [self.sample() for _ in range(size)]
