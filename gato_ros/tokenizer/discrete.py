"""Discrete values (e.g. button presses): flattened row-major integers in [0, 1024)."""

from __future__ import annotations

import numpy as np

from gato_ros.config import VocabConfig

NUM_DISCRETE = VocabConfig.num_bins


def tokenize_discrete(x: np.ndarray, num_values: int = NUM_DISCRETE) -> np.ndarray:
    """Integers in [0, num_values) pass through as ids; anything else is an error, never silently wrapped."""
    arr = np.asarray(x)
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.equal(np.mod(arr, 1), 0)):
            raise ValueError("discrete values must be integers")
    ids = arr.astype(np.int64).reshape(-1)
    if np.any((ids < 0) | (ids >= num_values)):
        raise ValueError(f"discrete values must lie in [0, {num_values}), got min {ids.min()} max {ids.max()}")
    return ids


def detokenize_discrete(ids: np.ndarray, num_values: int = NUM_DISCRETE) -> np.ndarray:
    return tokenize_discrete(ids, num_values)
