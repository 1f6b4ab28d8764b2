"""Sliding-window bookkeeping of the KV cache: a pinned prompt, then whole timesteps, oldest dropped first."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from gato_ros.runtime.errors import ContextOverflowError


@dataclass
class TimestepWindow:
    """Token counts of what the cache holds: `prompt` tokens (never evicted) then one entry per timestep."""

    max_tokens: int
    prompt: int = 0
    steps: deque[int] = field(default_factory=deque)

    @property
    def total(self) -> int:
        return self.prompt + sum(self.steps)

    def set_prompt(self, n_tokens: int, reserve: int = 0) -> None:
        """Pin `n_tokens` at the front and forget the episode; `reserve` = room one timestep needs."""
        if n_tokens + reserve > self.max_tokens:
            raise ContextOverflowError(
                f"prompt of {n_tokens} tokens plus one timestep ({reserve}) exceeds max_context_tokens="
                f"{self.max_tokens}; use a shorter prompt demo or a larger context")
        self.prompt = n_tokens
        self.steps.clear()

    def reset(self) -> None:
        """New episode: keep only the prompt."""
        self.steps.clear()

    def evict_for(self, incoming: int) -> tuple[int, int]:
        """Drop oldest whole timesteps until `incoming` more tokens fit; returns (tokens, timesteps) dropped."""
        if self.prompt + incoming > self.max_tokens:
            raise ContextOverflowError(
                f"a timestep of {incoming} tokens after a {self.prompt}-token prompt exceeds "
                f"max_context_tokens={self.max_tokens}")
        dropped = n = 0
        while self.total + incoming > self.max_tokens:
            dropped += self.steps.popleft()
            n += 1
        return dropped, n

    def begin_timestep(self, n_tokens: int) -> None:
        """Start a new timestep holding `n_tokens` so far."""
        self.steps.append(n_tokens)

    def extend(self, n_tokens: int = 1) -> None:
        """Add tokens to the current timestep (decoded action tokens)."""
        if not self.steps:
            raise RuntimeError("extend() before begin_timestep()")
        self.steps[-1] += n_tokens

    def boundaries(self) -> list[int]:
        """Cache offsets where each timestep starts (first entry = end of the prompt)."""
        out, pos = [], self.prompt
        for n in self.steps:
            out.append(pos)
            pos += n
        return out
