"""DAgger relabelling: model rollouts recorded with the scripted expert's action at every visited state."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from gato_ros.config import default_config
from gato_ros.demos.bag import list_episodes, read_episode
from gato_ros.eval.dagger import collect_dagger
from gato_ros.export.build import random_model, write_model_dir


def _object_state_model(out: Path) -> Path:
    model, model_cfg = random_model("tiny", seed=3)
    config = default_config()
    config = dataclasses.replace(config, tokenizer=dataclasses.replace(config.tokenizer, use_image=False,
                                                                       object_state=True),
                                 model={"name": "tiny", "random_init_seed": 3})
    return write_model_dir(model, config, out, sp_model=None, model_cfg=model_cfg)


def test_rollouts_carry_expert_labels_and_resume(tmp_path: Path) -> None:
    model_dir = _object_state_model(tmp_path / "model")
    out = tmp_path / "dagger"
    summary = collect_dagger(model_dir, out, episodes=1, seed=50_000, beta=0.0, workers=1, progress=False,
                             max_steps=6)
    assert summary["episodes"] == 1 and summary["beta"] == 0.0
    (bag,) = list_episodes(out)
    ep = read_episode(bag)
    assert ep.source == "dagger" and len(ep) == 6 and ep.object_state.shape == (6, 21)
    # the expert's labels, not the random model's commands: its gripper command is always fully open or closed
    assert set(np.unique(ep.actions[:, 7])) <= {-1.0, 1.0}
    assert np.all(np.isfinite(ep.actions))
    assert ep.cartesian_commands.shape == (6, 7) and np.array_equal(ep.cartesian_commands[:, 6], ep.actions[:, 7])
    again = collect_dagger(model_dir, out, episodes=1, seed=50_000, workers=1, progress=False, max_steps=6)
    assert again["episodes"] == 1  # the complete episode was kept, not redone or duplicated
