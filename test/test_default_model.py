"""The shipped default model loads with its own files and acts within the arm's effort limits (and its decoded
actions within their bounds), through evictions."""

import numpy as np

from gato_ros.agent import ModelInputs
from gato_ros.interfaces import OBJECT_STATE_SIZE, PROPRIO_SIZE
from gato_ros.paths import models_dir
from gato_ros.robot.registry import load_robot
from gato_ros.runtime import GatoPolicy


def test_default_model_acts():
    policy = GatoPolicy(models_dir() / "default", provider="cpu")
    limits = np.asarray(load_robot(policy.config.robot.name).all_effort_limits())  # the arm's, whatever the actions
    bounds = np.asarray(policy.config.robot.effort_limit)  # of the decoded actions (efforts or Cartesian commands)
    assert policy.config.model["name"] == "tiny" and "random_init_seed" not in policy.config.model
    assert (models_dir() / "default" / "MODEL_CARD.md").is_file()
    inputs = ModelInputs.of(policy.config.tokenizer)
    rng = np.random.default_rng(0)
    for _ in range(12):  # more timesteps than its context holds: eviction and re-prefill run too
        image = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8) if inputs.image else None
        objects = rng.normal(size=OBJECT_STATE_SIZE) * 0.1 + [0, 0, 0.03, 1, 0, 0, 0] * 3 if inputs.objects else None
        efforts = policy.act(image, rng.normal(size=PROPRIO_SIZE) * 0.1, "stack the red object on the blue object",
                             objects=objects)
        assert efforts.shape == (8,) and np.all(np.isfinite(efforts)) and np.all(np.abs(efforts) <= limits)
        assert np.all(np.abs(policy.last_command) <= bounds)
    assert 0 < policy.context_tokens <= policy.max_context_tokens
