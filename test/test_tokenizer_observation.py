"""Observation assembly: proprioception layout and joint-state reordering (the one place they are built)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gato_ros.interfaces import JOINT_NAMES, PROPRIO_SIZE
from gato_ros.observation import JointNameError, proprio_from_joints, reorder_joint_state


def test_proprio_layout_arm_positions_arm_velocities_gripper_position():
    q = np.arange(8) + 0.5
    qd = -np.arange(8) - 10.0
    p = proprio_from_joints(q, qd)
    assert p.shape == (PROPRIO_SIZE,) == (15,) and p.dtype == np.float64
    assert p.tolist() == q[:7].tolist() + qd[:7].tolist() + [q[7]]  # gripper velocity is not observed


def test_proprio_rejects_wrong_sizes():
    with pytest.raises(ValueError, match="8 joint positions"):
        proprio_from_joints(np.zeros(7), np.zeros(8))


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
