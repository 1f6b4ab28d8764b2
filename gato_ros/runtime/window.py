"""Sliding-window bookkeeping of the KV cache: a pinned prompt and instruction, then whole timesteps."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from gato_ros.runtime.errors import ContextOverflowError


@dataclass
class TimestepWindow:
    """Token counts of what the cache holds: `prompt` tokens (pinned across episodes), `instruction` tokens (pinned
    for the episode), then one entry per timestep."""

    max_tokens: int
    prompt: int = 0
    instruction: int = 0
    steps: deque[int] = field(default_factory=deque)

    @property
    def pinned(self) -> int:
        """Tokens never evicted: the prompt and this episode's instruction."""
        return self.prompt + self.instruction

    @property
    def total(self) -> int:
        return self.pinned + sum(self.steps)

    def set_prompt(self, n_tokens: int, reserve: int = 0) -> None:
        """Pin `n_tokens` at the front and forget the episode; `reserve` = room one timestep needs."""
        if n_tokens + reserve > self.max_tokens:
            raise ContextOverflowError(
                f"prompt of {n_tokens} tokens plus one timestep ({reserve}) exceeds max_context_tokens="
                f"{self.max_tokens}; use a shorter prompt demo or a larger context")
        self.prompt = n_tokens
        self.reset()

    def reset(self) -> None:
        """New episode: keep only the prompt."""
        self.instruction = 0
        self.steps.clear()

    def _check(self, incoming: int) -> None:
        if self.pinned + incoming > self.max_tokens:
            raise ContextOverflowError(
                f"a timestep of {incoming} tokens after a {self.pinned}-token prompt (and instruction) exceeds "
                f"max_context_tokens={self.max_tokens}")

    def evict_for(self, incoming: int) -> tuple[int, int]:
        """Drop oldest whole timesteps until `incoming` more tokens fit; returns (tokens, timesteps) dropped."""
        self._check(incoming)
        dropped = n = 0
        while self.total + incoming > self.max_tokens:
            dropped += self.steps.popleft()
            n += 1
        return dropped, n

    def evict_to_fraction(self, incoming: int, fraction: float = 0.5) -> int:
        """When `incoming` tokens do not fit, drop the oldest whole timesteps until the kept ones plus `incoming`
        fill at most `fraction` of the episode budget (max_tokens - pinned); returns the timesteps dropped.

        Dropping many at once makes the (re-prefilled) window change rarely: a re-prefill every ~half window."""
        self._check(incoming)
        if self.total + incoming <= self.max_tokens:
            return 0
        target = max(int(fraction * (self.max_tokens - self.pinned)), incoming)
        n = 0
        while self.steps and sum(self.steps) + incoming > target:
            self.steps.popleft()
            n += 1
        return n

    def roll(self, keep_steps: int) -> tuple[int, int]:
        """Keep the last `keep_steps` timesteps and the last token of the one before (the action token that was fed
        in with the oldest kept observation: `timestep_band`), dropping the oldest tokens before them; returns
        (tokens dropped, timestep entries removed). The dropped tokens are the first ones after the pinned."""
        dropped = n = 0
        while len(self.steps) > keep_steps + 1:
            dropped += self.steps.popleft()
            n += 1
        if len(self.steps) == keep_steps + 1 and self.steps[0] > 1:
            dropped += self.steps[0] - 1
            self.steps[0] = 1
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
        """Cache offsets where each timestep starts (first entry = end of the pinned tokens)."""
        out, pos = [], self.pinned
        for n in self.steps:
            out.append(pos)
            pos += n
        return out
