"""StackingEnv on the primitive cell: contract, seeding, torque interface, gripper, rendering, success."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from gato_ros.interfaces import JOINT_NAMES
from gato_ros.sim import EnvError, StackingEnv, objects, success
from gato_ros.sim.env import HOME_Q


@pytest.fixture(scope="module")
def env() -> StackingEnv:
    return StackingEnv(cell="primitive", object_set="rgb_test_triplet1")


def test_reset_observation_contract(env) -> None:
    obs = env.reset(seed=0)
    assert env.joint_names == list(JOINT_NAMES)
    assert obs.q.shape == obs.qd.shape == obs.effort.shape == (8,)
    assert obs.image.shape == (64, 64, 3) and obs.image.dtype == np.uint8
    assert obs.time == 0.0 and obs.success is False
    np.testing.assert_allclose(obs.q[:7], HOME_Q, atol=2e-3)
    assert obs.q[7] < 0.05  # gripper open
    assert env.object_names == ("r3", "s0", "b2")
    assert env.stage() == "none" and env.stages() == {"reached": False, "grasped": False, "lifted": False,
                                                       "stacked": False}


def test_seed_fixes_object_poses(env) -> None:
    env.reset(seed=5)
    a = {c: p.copy() for c, (p, _) in env.object_poses().items()}
    env.reset(seed=6)
    b = {c: p.copy() for c, (p, _) in env.object_poses().items()}
    env.reset(seed=5)
    c = {c: p.copy() for c, (p, _) in env.object_poses().items()}
    for color in objects.COLORS:
        np.testing.assert_allclose(a[color], c[color])
        half_height = objects.shape(env.object_names[objects.COLORS.index(color)]).half_height
        assert abs(a[color][2] - env.floor_z - half_height) < 0.003
    assert any(np.linalg.norm(a[k][:2] - b[k][:2]) > 1e-3 for k in objects.COLORS)


def test_step_is_50ms_and_zero_torque_holds_the_arm(env) -> None:
    obs = env.reset(seed=1)
    for _ in range(10):
        obs = env.step(np.r_[np.zeros(7), -1.0])
    assert obs.time == pytest.approx(0.5)
    np.testing.assert_allclose(obs.q[:7], HOME_Q, atol=5e-3)  # gravcomp: no sag without torque


def test_torque_moves_the_joint_it_drives_and_efforts_are_clipped(env) -> None:
    env.reset(seed=1)
    obs = env.step(np.array([200.0, 0, 0, 0, 0, 0, 0, -5.0]))
    np.testing.assert_allclose(obs.effort, [80.0, 0, 0, 0, 0, 0, 0, -1.0])
    assert obs.qd[0] > 0.1 and obs.q[0] > HOME_Q[0]
    assert np.all(np.abs(obs.qd[1:7]) < np.abs(obs.qd[0]))


def test_gripper_closes_and_opens(env) -> None:
    env.reset(seed=1)
    for _ in range(10):
        obs = env.step(np.r_[np.zeros(7), 1.0])
    assert obs.q[7] > 0.7  # closed on nothing
    for _ in range(10):
        obs = env.step(np.r_[np.zeros(7), -1.0])
    assert obs.q[7] < 0.05


def test_physics_step_and_bad_efforts(env) -> None:
    env.reset(seed=0)
    obs = env.physics_step(np.zeros(8), 20)
    assert obs.image is None and obs.time == pytest.approx(0.01)
    with pytest.raises(EnvError, match="8 values"):
        env.step(np.zeros(7))
    with pytest.raises(EnvError, match="finite"):
        env.step(np.r_[np.zeros(7), np.nan])


def test_render_cameras_differ_and_show_the_objects(env) -> None:
    env.reset(seed=0)
    images = {cam: env.render(cam) for cam in ("basket_front_left", "basket_front_right", "basket_back_left")}
    for img in images.values():
        red = (img[..., 0] > 150) & (img[..., 1] < 80) & (img[..., 2] < 80)
        assert red.sum() > 5  # the red object is in view
    assert not np.array_equal(images["basket_front_left"], images["basket_front_right"])
    assert env.render(image_size=(48, 80)).shape == (48, 80, 3)
    with pytest.raises(EnvError, match="unknown camera"):
        env.render("nope")


def test_bad_constructor_arguments() -> None:
    with pytest.raises(EnvError, match="unknown cell"):
        StackingEnv(cell="nope")
    with pytest.raises(EnvError, match="unknown object_set"):
        StackingEnv(object_set="nope")
    with pytest.raises(EnvError, match="unknown camera"):
        StackingEnv(camera="nope")
    with pytest.raises(EnvError, match="unknown success_rule"):
        StackingEnv(success_rule="nope")


def test_success_when_red_is_placed_on_blue(env) -> None:
    """Teleport red onto blue (s0 / b2: 0.05 m tall each, frames at centres) and let it settle: success."""
    env.reset(seed=2)
    m, d = env.model, env.data
    blue = d.xpos[m.body("blue").id].copy()
    adr = m.joint("red_joint").qposadr[0]
    d.qpos[adr:adr + 3] = blue + [0.0, 0.0, 0.5 * (0.071 + 0.050) + 0.002]  # r3 is 71 mm tall
    d.qpos[adr + 3:adr + 7] = d.xquat[m.body("blue").id]
    d.qvel[:] = 0
    mujoco.mj_forward(m, d)
    for _ in range(10):
        obs = env.step(np.r_[np.zeros(7), -1.0])
    red = d.xpos[m.body("red").id]
    vertical = red[2] - d.xpos[m.body("blue").id][2]
    assert vertical == pytest.approx(0.0605, abs=0.003)  # r3 is 71 mm tall: above the literal 0.05 bound
    assert obs.success and env.success() and env.stage() == "stacked"  # size-aware rule: red rests on blue
    literal = StackingEnv(cell="primitive", object_set="rgb_test_triplet1", success_rule="literal")
    literal.reset(seed=2)
    literal.data.qpos[:] = d.qpos
    mujoco.mj_forward(literal.model, literal.data)
    assert not literal.success()
    # lifting red 2 cm off blue breaks the stack
    d.qpos[adr + 2] += 0.02
    mujoco.mj_forward(m, d)
    assert not env.success()


def test_success_rule_matches_the_benchmark() -> None:
    blue = np.array([0.0, 0.0, 0.025])
    assert success.is_stacked(blue + [0.02, 0.0, 0.04], blue, grasping=False)
    assert not success.is_stacked(blue + [0.02, 0.0, 0.04], blue, grasping=True)
    assert not success.is_stacked(blue + [0.031, 0.0, 0.04], blue, grasping=False)
    assert success.is_stacked(blue + [0.0, 0.0, 0.0499], blue, grasping=False)
    assert not success.is_stacked(blue + [0.0, 0.0, 0.0501], blue, grasping=False)
    assert not success.is_stacked(blue + [0.0, 0.0, 0.0299], blue, grasping=False)
    assert success.furthest_stage({"reached": True, "grasped": True, "lifted": False, "stacked": False}) == "grasped"


def test_object_sets() -> None:
    rng = np.random.default_rng(0)
    assert objects.triplet("rgb_test_triplet4", rng) == ("s0", "g5", "b6")
    train = objects.triplet("rgb_train_random", rng)
    assert len(set(train)) == 3 and all(objects.object_table()[n]["set"] == "train" for n in train)
    assert objects.triplet("rgb_test_random", rng) in objects.TEST_TRIPLETS.values()
    with pytest.raises(objects.ObjectSetError):
        objects.triplet("nope", rng)
