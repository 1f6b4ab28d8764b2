"""TimestepWindow: pure bookkeeping of the sliding window (whole timesteps, pinned prompt)."""

from __future__ import annotations

import pytest

from gato_ros.runtime.errors import ContextOverflowError
from gato_ros.runtime.window import TimestepWindow


def test_evicts_oldest_whole_timesteps_only() -> None:
    w = TimestepWindow(100)
    w.set_prompt(30, reserve=20)
    for n in (20, 25, 15):
        w.begin_timestep(n)
    assert w.total == 90 and w.boundaries() == [30, 50, 75]
    assert w.evict_for(20) == (20, 1)  # 90 + 20 > 100: drop the 20-token timestep, not part of the next
    assert list(w.steps) == [25, 15] and w.total == 70
    assert w.evict_for(30) == (0, 0)
    assert w.evict_for(65) == (40, 2)  # everything but the prompt
    assert w.total == 30


def test_extend_grows_current_timestep() -> None:
    w = TimestepWindow(50)
    with pytest.raises(RuntimeError):
        w.extend()
    w.begin_timestep(10)
    w.extend(8)
    assert list(w.steps) == [18]
    w.reset()
    assert w.total == 0


def test_overflow_is_a_clear_error() -> None:
    w = TimestepWindow(64)
    with pytest.raises(ContextOverflowError, match="max_context_tokens=64"):
        w.set_prompt(60, reserve=10)
    w.set_prompt(40)
    with pytest.raises(ContextOverflowError, match="40-token prompt"):
        w.evict_for(30)
