"""Observation assembly: proprioception layout and joint-state reordering (the one place they are built)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gato_ros.interfaces import JOINT_NAMES, KINEMATIC_SIZE, PROPRIO_SIZE
from gato_ros.observation import JointNameError, kinematic_features, proprio_from_joints, reorder_joint_state


def test_proprio_layout_arm_positions_arm_velocities_gripper_position():
    q = np.arange(8) + 0.5
    qd = -np.arange(8) - 10.0
    p = proprio_from_joints(q, qd)
    assert p.shape == (PROPRIO_SIZE,) == (15,) and p.dtype == np.float64
    assert p.tolist() == q[:7].tolist() + qd[:7].tolist() + [q[7]]  # gripper velocity is not observed


def test_proprio_rejects_wrong_sizes():
    with pytest.raises(ValueError, match="8 joint positions"):
        proprio_from_joints(np.zeros(7), np.zeros(8))


@pytest.mark.parametrize("arm", ["sawyer", "panda"])
def test_kinematic_features_match_the_simulated_pinch_and_objects(arm: str) -> None:
    """FK of the registry URDF and the registry's base position against MuJoCo's own pinch site, base and object
    bodies, in the base frame, mid-episode, for each arm."""
    from gato_ros.robot import RobotModel
    from gato_ros.robot.registry import load_robot
    from gato_ros.sim.env import StackingEnv

    desc = load_robot(arm)
    env = StackingEnv(cell="primitive", object_set="rgb_train_random", robot=arm)
    obs = env.reset(seed=7)
    for _ in range(10):
        obs = env.step(np.array([3.0, -5.0, 2.0, 4.0, 1.0, -1.0, 1.0, -1.0]))
    base = env.data.xpos[env.model.body(env.base_body).id]
    f = kinematic_features(RobotModel.for_robot(desc), desc.base_position, proprio_from_joints(obs.q, obs.qd),
                           env.object_state())
    assert f.shape == (KINEMATIC_SIZE,)
    pinch = env.pinch_position() - base
    red, green, blue = (env.data.xpos[env.model.body(c).id] - base for c in ("red", "green", "blue"))
    np.testing.assert_allclose(f[:3], pinch, atol=2e-4)  # URDF vs MJCF: well under a millimetre
    np.testing.assert_allclose(f[12:], np.concatenate([red - pinch, blue - red, green - pinch]), atol=2e-4)
    np.testing.assert_allclose(np.linalg.norm(f[3:9].reshape(2, 3), axis=1), 1.0, atol=1e-9)
    with pytest.raises(ValueError, match="kinematic features need"):
        kinematic_features(RobotModel.for_robot(desc), desc.base_position, np.zeros(15), np.zeros(20))


def test_reorder_from_a_message_with_extra_joints_in_another_order():
    names = ["finger_left", "gripper_joint"] + list(reversed(JOINT_NAMES[:7]))
    values = [99.0, 0.8] + [float(6 - i) for i in range(7)]
    assert reorder_joint_state(names, values, JOINT_NAMES) == [0, 1, 2, 3, 4, 5, 6, 0.8]


def test_reorder_errors_name_the_problem():
    with pytest.raises(JointNameError, match=r"lacks joints \['gripper_joint'\]"):
        reorder_joint_state(list(JOINT_NAMES[:7]), [0.0] * 7, JOINT_NAMES)
    with pytest.raises(JointNameError, match="8 names but 7 values"):
        reorder_joint_state(list(JOINT_NAMES), [0.0] * 7, JOINT_NAMES)


@given(st.permutations(list(range(8))))
def test_property_reorder_inverts_any_permutation(perm):
    names = [JOINT_NAMES[i] for i in perm]
    values = [float(i) for i in perm]
    assert reorder_joint_state(names, values, JOINT_NAMES) == [float(i) for i in range(8)]
