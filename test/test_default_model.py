"""The shipped default model loads with its own files and acts within the effort limits."""

import numpy as np

from gato_ros.paths import models_dir
from gato_ros.runtime import GatoPolicy

LIMITS = np.array([80, 80, 40, 40, 9, 9, 9, 1.0])


def test_default_model_acts():
    policy = GatoPolicy(models_dir() / "default", provider="cpu")
    assert policy.config.model["name"] == "tiny" and policy.max_context_tokens <= 256
    assert (models_dir() / "default" / "MODEL_CARD.md").is_file()
    rng = np.random.default_rng(0)
    for _ in range(8):  # more than a context window's worth of 40-token timesteps: eviction runs too
        efforts = policy.act(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8), rng.normal(size=15) * 0.1,
                             "stack the red object on the blue object")
        assert efforts.shape == (8,) and np.all(np.isfinite(efforts)) and np.all(np.abs(efforts) <= LIMITS)
    assert 0 < policy.context_tokens <= 256
