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


def test_evict_to_fraction_drops_to_half_the_episode_budget_and_keeps_pinned_tokens():
    w = TimestepWindow(200)
    w.set_prompt(30)
    w.instruction = 10  # pinned for the episode: budget 160
    for _ in range(3):
        w.begin_timestep(40)
    assert w.evict_to_fraction(40) == 0  # 40 pinned + 120 + 40 = 200 fits exactly
    w.begin_timestep(40)
    assert w.total == 200 and w.evict_to_fraction(40) == 3  # keep <= 80 tokens with the incoming 40
    assert list(w.steps) == [40] and w.pinned == 40
    w.reset()
    assert w.instruction == 0 and w.total == 30
    with pytest.raises(ContextOverflowError):
        w.evict_to_fraction(171)


def test_roll_keeps_the_band_and_the_action_token_before_it():
    """roll(2): the last two timesteps stay whole, the one before keeps only its last token, older ones go; the
    dropped tokens are the first ones after the pinned prompt and instruction."""
    w = TimestepWindow(max_tokens=1000, prompt=5, instruction=3)
    for n in (10, 11, 12):
        w.begin_timestep(n)
    assert w.roll(2) == (9, 0) and list(w.steps) == [1, 11, 12]
    assert w.roll(2) == (0, 0) and w.total == 5 + 3 + 24
    w.begin_timestep(13)
    assert w.roll(2) == (1 + 10, 1) and list(w.steps) == [1, 12, 13] and w.pinned == 8
