"""Pose helpers and twist integration used by the impedance controller and teleop (pure numpy)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gato_ros.control import ControlError, Pose, PoseError, quat_to_matrix, twist_to_target, yaw_matrix
from gato_ros.control.pose import matrix_to_rotvec, rotvec_to_matrix

vec3 = st.lists(st.floats(-1.0, 1.0), min_size=3, max_size=3).map(np.array)


@settings(max_examples=200, deadline=None)
@given(axis=vec3, angle=st.floats(0.0, np.pi - 1e-3))
def test_rotvec_round_trip(axis: np.ndarray, angle: float) -> None:
    if np.linalg.norm(axis) < 1e-3:
        axis = np.array([0.0, 0.0, 1.0])
    w = axis / np.linalg.norm(axis) * angle
    r = rotvec_to_matrix(w)
    assert np.allclose(r @ r.T, np.eye(3), atol=1e-9) and np.isclose(np.linalg.det(r), 1.0)
    assert np.allclose(matrix_to_rotvec(r), w, atol=1e-6)


def test_rotvec_near_pi_keeps_axis() -> None:
    w = np.array([0.0, 0.6, 0.8]) * (np.pi - 1e-6)
    back = matrix_to_rotvec(rotvec_to_matrix(w))
    assert np.isclose(np.linalg.norm(back), np.pi, atol=1e-5)
    assert abs(abs(np.dot(back / np.linalg.norm(back), [0.0, 0.6, 0.8])) - 1.0) < 1e-6


def test_quat_and_yaw_agree() -> None:
    yaw = 0.7
    q = np.array([np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)])
    assert np.allclose(quat_to_matrix(q), yaw_matrix(yaw))


def test_pose_error_is_zero_on_itself_and_moves_onto_target() -> None:
    a = Pose([0.1, 0.2, 0.3], yaw_matrix(0.2))
    b = Pose([0.4, -0.1, 0.5], rotvec_to_matrix(np.array([0.1, -0.3, 0.2])) @ a.rotation)
    assert np.allclose(a.error_to(a), 0.0)
    e = a.error_to(b)
    assert np.allclose(a.position + e[:3], b.position)
    assert np.allclose(rotvec_to_matrix(e[3:]) @ a.rotation, b.rotation)
    assert np.allclose(Pose.from_matrix(b.matrix()).matrix(), b.matrix())


def test_pose_rejects_bad_input() -> None:
    with pytest.raises(PoseError, match="position"):
        Pose([0.0, 0.0], np.eye(3))
    with pytest.raises(PoseError, match="orthonormal"):
        Pose([0.0, 0.0, 0.0], 2 * np.eye(3))
    with pytest.raises(PoseError, match="finite"):
        Pose([0.0, np.nan, 0.0], np.eye(3))
    with pytest.raises(PoseError, match="4x4"):
        Pose.from_matrix(np.eye(3))


def test_twist_to_target_integrates_linear_and_angular_velocity() -> None:
    start = Pose([0.5, 0.0, 0.2], np.diag([1.0, -1.0, -1.0]))
    pose = start
    for _ in range(20):  # 1 s at 20 Hz
        pose = twist_to_target(pose, np.array([0.1, -0.05, 0.02, 0.0, 0.0, 0.4]), 0.05)
    assert np.allclose(pose.position, start.position + [0.1, -0.05, 0.02], atol=1e-9)
    assert np.allclose(pose.rotation, yaw_matrix(0.4) @ start.rotation, atol=1e-9)


def test_twist_to_target_leash_limits_lead_over_current_pose() -> None:
    current = Pose([0.5, 0.0, 0.2], np.eye(3))
    target = current
    for _ in range(100):  # arm blocked: current never moves
        target = twist_to_target(target, np.array([0.5, 0.0, 0.0, 0.0, 0.0, 2.0]), 0.05, current=current,
                                 max_lead=0.1, max_lead_angle=0.5)
    assert np.isclose(np.linalg.norm(target.position - current.position), 0.1)
    assert np.isclose(np.linalg.norm(matrix_to_rotvec(target.rotation @ current.rotation.T)), 0.5)


def test_twist_to_target_rejects_bad_twist() -> None:
    pose = Pose([0.0, 0.0, 0.0], np.eye(3))
    with pytest.raises(ControlError, match="6 finite"):
        twist_to_target(pose, np.zeros(5), 0.05)
    with pytest.raises(ControlError, match="6 finite"):
        twist_to_target(pose, np.array([np.inf, 0, 0, 0, 0, 0]), 0.05)
    with pytest.raises(ControlError, match="dt"):
        twist_to_target(pose, np.zeros(6), -1.0)
