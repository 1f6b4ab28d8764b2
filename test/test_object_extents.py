"""Object extents (interfaces.OBJECT_EXTENTS_SIZE): what the sim reports, how demos keep them, and how the tokenizer,
the runtime and the agent take them (tokenizer.object_extents)."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest

from gato_ros.agent import ModelInputs
from gato_ros.config import ConfigError, GatoConfig, TokenizerConfig
from gato_ros.demos.bag import read_episode, write_episode
from gato_ros.episode import Episode
from gato_ros.interfaces import OBJECT_EXTENTS_SIZE
from gato_ros.observation import object_extents_from_values, proprio_from_joints
from gato_ros.sim import StackingEnv, objects
from gato_ros.tokenizer import GatoTokenizer, TokenizerError


def test_env_extents_hold_every_vertex_and_follow_the_reported_frame() -> None:
    body, grasp = StackingEnv(object_frame="body"), StackingEnv(object_frame="grasp")
    for seed in range(6):
        body.reset(seed)
        grasp.reset(seed)
        b, g = body.object_extents().reshape(3, 3), grasp.object_extents().reshape(3, 3)
        assert body.object_extents().shape == (OBJECT_EXTENTS_SIZE,) and np.all(b > 0.005) and np.all(b < 0.2)
        np.testing.assert_array_equal(b[:, 2], g[:, 2])  # grasp frames turn about z only
        for k, color in enumerate(objects.COLORS):
            pos, quat = body.object_poses()[color]
            from gato_ros.control.pose import quat_to_matrix

            local = (body.object_points(color) - pos) @ quat_to_matrix(quat)  # the vertices in the body frame
            np.testing.assert_allclose(np.abs(local).max(axis=0), b[k], atol=1e-6)  # the smallest centred box
            assert g[k, 0] <= g[k, 1] + 1e-6  # grasp x runs along the narrowest width
        # on the floor at reset, each object's centre sits about its half height up (it rests on its bottom)
        np.testing.assert_allclose(body.object_state().reshape(3, 7)[:, 2], b[:, 2], atol=0.006)


def test_extents_values_are_checked() -> None:
    np.testing.assert_array_equal(object_extents_from_values([0.02] * 9), np.full(9, 0.02))
    with pytest.raises(ValueError, match="9 values"):
        object_extents_from_values([0.02] * 8)
    with pytest.raises(ValueError, match="finite and positive"):
        object_extents_from_values([0.02] * 8 + [np.nan])
    with pytest.raises(ValueError, match="finite and positive"):
        object_extents_from_values([0.02] * 8 + [0.0])


def _episode(t: int, extents: bool) -> Episode:
    rng = np.random.default_rng(1)
    state = np.tile(np.r_[0.1, 0.2, 0.03, 1.0, 0, 0, 0], (t, 3))
    return Episode(np.zeros((t, 4, 4, 3), np.uint8), rng.normal(size=(t, 8)), rng.normal(size=(t, 8)),
                   rng.normal(size=(t, 8)), object_state=state,
                   object_extents=np.tile(np.linspace(0.02, 0.06, 9), (t, 1)) if extents else None)


def test_bags_keep_extents_per_step_and_older_bags_read_without(tmp_path) -> None:
    ep = _episode(5, extents=True)
    got = read_episode(write_episode(tmp_path / "with", ep))
    np.testing.assert_array_equal(got.object_extents, ep.object_extents)
    np.testing.assert_array_equal(got.slice(1, 3).object_extents, ep.object_extents[1:3])
    assert read_episode(write_episode(tmp_path / "without", _episode(5, extents=False))).object_extents is None
    with pytest.raises(ValueError, match="object_extents must be"):
        dataclasses.replace(ep, object_extents=np.zeros((5, 8)))


def test_extents_tokens_follow_the_object_poses() -> None:
    base = GatoConfig()
    plain_cfg = dataclasses.replace(base.tokenizer, use_image=False, object_state=True, kinematics=True)
    plain = GatoTokenizer(dataclasses.replace(base, tokenizer=plain_cfg))
    sized = GatoTokenizer(dataclasses.replace(base, tokenizer=dataclasses.replace(plain_cfg, object_extents=True)))
    assert sized.tokens_per_timestep() == plain.tokens_per_timestep() + OBJECT_EXTENTS_SIZE
    env = StackingEnv()
    obs = env.reset(2)
    proprio, state, extents = proprio_from_joints(obs.q, obs.qd), env.object_state(), env.object_extents()
    p = plain.observation(None, proprio, objects=state)
    s = sized.observation(None, proprio, objects=state, extents=extents)
    head = 15 + 21  # proprio and object poses, then the extents, then the same kinematics and '|'
    assert np.array_equal(s.tokens[:head], p.tokens[:head]) and np.array_equal(s.tokens[head + 9:], p.tokens[head:])
    np.testing.assert_array_equal(s.local_pos, np.arange(len(s)))
    with pytest.raises(TokenizerError, match="object extents"):
        sized.observation(None, proprio, objects=state)
    with pytest.raises(TokenizerError, match="needs object extents"):
        sized.episode(_episode(3, extents=False))
    assert len(sized.episode(_episode(3, extents=True))) == 3 * sized.tokens_per_timestep()
    with pytest.raises(ConfigError, match="object_extents"):
        TokenizerConfig(object_extents=True)
    old = base.to_dict()
    del old["tokenizer"]["object_extents"]  # a gato.json from before the field
    assert GatoConfig.from_dict(old).tokenizer == base.tokenizer


def test_model_inputs_name_the_extents() -> None:
    assert not ModelInputs.of(SimpleNamespace(use_image=False, object_state=True)).extents
    assert ModelInputs.of(SimpleNamespace(use_image=False, object_state=True, object_extents=True)).extents


def test_bag_writer_refuses_bad_extents_with_the_shared_check(tmp_path) -> None:
    from gato_ros.demos.bag import DemoError, EpisodeBagWriter

    with EpisodeBagWriter(tmp_path / "bag") as w:
        with pytest.raises(DemoError, match="9 values"):
            w.object_extents(np.full(8, 0.02), 1)
        with pytest.raises(DemoError, match="finite and positive"):
            w.object_extents(np.r_[np.full(8, 0.02), -0.01], 1)
        w.close(None)
