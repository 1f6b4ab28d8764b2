"""Grasp frames of the objects (interfaces.OBJECT_FRAMES): the yaw of an object's narrowest horizontal width, the
poses the sim reports, and the frame kept with demos, gato.json, the tokenizer and the agent's check."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest

from gato_ros.agent import ModelInputs
from gato_ros.config import ConfigError, GatoConfig, TokenizerConfig
from gato_ros.control.pose import quat_to_matrix
from gato_ros.demos.bag import read_episode, write_episode
from gato_ros.episode import Episode
from gato_ros.sim import EnvError, StackingEnv, objects
from gato_ros.tokenizer import GatoTokenizer, TokenizerError


def _box(x: float, y: float, z: float, yaw: float = 0.0) -> np.ndarray:
    corners = np.array([[sx * x, sy * y, sz * z] for sx in (-.5, .5) for sy in (-.5, .5) for sz in (0, 1)])
    c, s = np.cos(yaw), np.sin(yaw)
    return corners @ np.array([[c, s, 0], [-s, c, 0], [0, 0, 1]])


@pytest.mark.parametrize("x, y, yaw, expect_deg", [(0.02, 0.06, 0.0, 0.0), (0.06, 0.02, 0.0, 90.0),
                                                   (0.02, 0.06, np.radians(30), 30.0),
                                                   (0.02, 0.06, np.radians(150), 150.0),
                                                   (0.02, 0.06, np.radians(-30), 150.0)])
def test_grasp_yaw_is_the_narrowest_horizontal_width(x, y, yaw, expect_deg) -> None:
    got = np.degrees(objects.grasp_yaw(_box(x, y, 0.04, yaw)))
    assert 0.0 <= got < 180.0 and abs(got - expect_deg) < 1e-6


def test_grasp_yaw_ignores_height_breaks_ties_low_and_refuses_bad_points() -> None:
    assert objects.grasp_yaw(_box(0.03, 0.03, 0.5)) == 0.0  # a square: the smaller of the equal yaws
    assert objects.grasp_yaw(_box(0.06, 0.02, 0.01)) == objects.grasp_yaw(_box(0.06, 0.02, 0.3))
    with pytest.raises(ValueError, match="2 finite points"):
        objects.grasp_yaw(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="2 finite points"):
        objects.grasp_yaw(np.array([[0, 0, 0], [np.nan, 0, 0]]))


def test_env_reports_grasp_frames_x_along_the_narrow_width() -> None:
    body, grasp = StackingEnv(object_frame="body"), StackingEnv(object_frame="grasp")
    turned = 0
    for seed in range(12):
        body.reset(seed)
        grasp.reset(seed)
        for color in objects.COLORS:
            (p_b, q_b), (p_g, q_g) = body.object_poses()[color], grasp.object_poses()[color]
            np.testing.assert_array_equal(p_b, p_g)  # same origin
            r_b, r_g = quat_to_matrix(q_b), quat_to_matrix(q_g)
            np.testing.assert_allclose(r_b[:, 2], r_g[:, 2], atol=1e-9)  # turned about the object's own z only
            xy = grasp.object_points(color)[:, :2]
            x_axis, y_axis = r_g[:2, 0] / np.linalg.norm(r_g[:2, 0]), r_g[:2, 1] / np.linalg.norm(r_g[:2, 1])
            assert np.ptp(xy @ x_axis) <= np.ptp(xy @ y_axis) + 1e-4  # x spans the narrow width (squares: either)
            turned += not np.allclose(r_b, r_g)
        np.testing.assert_allclose(np.linalg.norm(grasp.object_state().reshape(3, 7)[:, 3:], axis=1), 1.0)
    assert turned > 0  # the frames differ for some objects
    with pytest.raises(EnvError, match="unknown object_frame"):
        StackingEnv(object_frame="camera")


def _episode(frame: str = "body") -> Episode:
    t = 3
    return Episode(np.zeros((t, 64, 64, 3), np.uint8), np.zeros((t, 8)), np.zeros((t, 8)), np.zeros((t, 8)),
                   instruction="stack", success=True,
                   object_state=np.tile([0.1, 0.2, 0.05, 1.0, 0.0, 0.0, 0.0], (t, 3)), object_frame=frame)


def test_episode_bag_and_tokenizer_keep_the_frame(tmp_path) -> None:
    assert read_episode(write_episode(tmp_path / "g", _episode("grasp"))).object_frame == "grasp"
    assert read_episode(write_episode(tmp_path / "b", _episode())).object_frame == "body"
    with pytest.raises(ValueError, match="object_frame"):
        _episode("camera")
    with pytest.raises(ConfigError, match="object_frame"):
        TokenizerConfig(object_frame="camera")
    base = GatoConfig()
    tok = dataclasses.replace(base.tokenizer, use_image=False, object_state=True, object_frame="grasp")
    grasp_tok = GatoTokenizer(dataclasses.replace(base, tokenizer=tok))
    assert len(grasp_tok.episode(_episode("grasp"))) > 0
    with pytest.raises(TokenizerError, match="grasp frame .* body frame"):
        grasp_tok.episode(_episode("body"))
    body_tok = GatoTokenizer(dataclasses.replace(base, tokenizer=dataclasses.replace(tok, object_frame="body")))
    with pytest.raises(TokenizerError, match="body frame .* grasp frame"):
        body_tok.episode(_episode("grasp"))


def test_agent_refuses_object_poses_of_another_frame() -> None:
    grasp = ModelInputs.of(SimpleNamespace(use_image=False, object_state=True, object_frame="grasp"))
    grasp.check_object_frame("grasp")
    with pytest.raises(ValueError, match="object_frame:=grasp"):
        grasp.check_object_frame("body")
    ModelInputs.of(SimpleNamespace(use_image=True, object_state=False)).check_object_frame("grasp")  # no poses read


@pytest.mark.parametrize("red_yaw_deg, closing_deg", [(0, 0), (30, 0), (90, 0), (120, 45), (-60, 170)])
def test_grasp_alignment_is_twice_the_turn_to_reds_x_axis(red_yaw_deg, closing_deg) -> None:
    from gato_ros.observation import grasp_alignment

    half = np.radians(red_yaw_deg) / 2
    quat = np.array([np.cos(half), 0.0, 0.0, np.sin(half)])
    axis = np.array([np.cos(np.radians(closing_deg)), np.sin(np.radians(closing_deg)), 0.0])
    d = np.radians(red_yaw_deg - closing_deg)
    np.testing.assert_allclose(grasp_alignment(axis, quat), [np.sin(2 * d), np.cos(2 * d)], atol=1e-12)
    np.testing.assert_allclose(grasp_alignment(-axis, -quat), grasp_alignment(axis, quat), atol=1e-12)  # mod pi


def test_grasp_alignment_tokens_follow_the_kinematics() -> None:
    """tokenizer.grasp_alignment adds its 2 values after the kinematic features (needs kinematics; old gato.json
    files read as without it)."""
    base = GatoConfig()
    kin = dataclasses.replace(base.tokenizer, use_image=False, object_state=True, kinematics=True)
    plain = GatoTokenizer(dataclasses.replace(base, tokenizer=kin))
    aligned = GatoTokenizer(dataclasses.replace(base, tokenizer=dataclasses.replace(kin, grasp_alignment=True)))
    assert aligned.tokens_per_timestep() == plain.tokens_per_timestep() + 2
    env = StackingEnv(object_frame="grasp")
    obs = env.reset(3)
    from gato_ros.observation import proprio_from_joints

    proprio = proprio_from_joints(obs.q, obs.qd)
    a = aligned.observation(None, proprio, objects=env.object_state())
    p = plain.observation(None, proprio, objects=env.object_state())
    assert len(a) == len(p) + 2 and np.array_equal(a.tokens[:-3], p.tokens[:-1])  # same values, 2 more, then '|'
    with pytest.raises(ConfigError, match="grasp_alignment"):
        TokenizerConfig(object_state=True, grasp_alignment=True)
    old = base.to_dict()
    del old["tokenizer"]["grasp_alignment"], old["tokenizer"]["object_frame"]  # a gato.json from before them
    assert GatoConfig.from_dict(old).tokenizer == base.tokenizer
