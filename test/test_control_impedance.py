"""Cartesian impedance controller on the URDF RobotModel (unit) and driving the MuJoCo cell's pinch point."""

from __future__ import annotations

import numpy as np
import pytest

from gato_ros.control import (
    DEFAULT_POSTURE, CartesianImpedanceController, ControlError, ImpedanceGains, Pose, yaw_matrix,
)
from gato_ros.control.pose import rotvec_to_matrix
from gato_ros.robot import RobotModel, default_urdf_path
from gato_ros.sim.env import StackingEnv



@pytest.fixture(scope="module")
def robot():
    return RobotModel.from_file(default_urdf_path())


def _q(rng: np.random.Generator) -> np.ndarray:
    return np.asarray(DEFAULT_POSTURE) + rng.uniform(-0.3, 0.3, 7)


def test_no_torque_at_rest_on_target(robot) -> None:
    q = np.asarray(DEFAULT_POSTURE) + 0.1
    ctrl = CartesianImpedanceController(robot)
    assert np.linalg.norm(ctrl.torques(q, np.zeros(7), ctrl.pose(q))) > 0.1  # posture spring active
    ctrl.set_posture(q)
    tau = ctrl.torques(q, np.zeros(7), ctrl.pose(q))
    assert np.allclose(tau, 0.0, atol=1e-9)


def test_lead_torques_are_the_torques_towards_the_moved_pose(robot) -> None:
    """lead_torques(q, qd, lead) = torques towards the current pinch pose moved by lead (displacement, rotation
    vector), with or without the current pose handed in."""
    rng = np.random.default_rng(4)
    ctrl = CartesianImpedanceController(robot)
    for _ in range(5):
        q, qd, lead = _q(rng), rng.normal(0, 0.2, 7), rng.uniform(-0.01, 0.01, 6)
        pose = ctrl.pose(q)
        target = Pose(pose.position + lead[:3], rotvec_to_matrix(lead[3:]) @ pose.rotation)
        expected = ctrl.torques(q, qd, target)
        np.testing.assert_allclose(ctrl.lead_torques(q, qd, lead), expected, atol=1e-12)
        np.testing.assert_allclose(ctrl.torques(q, qd, target, current=pose), expected, atol=1e-12)
    with pytest.raises(ControlError, match="lead"):
        ctrl.lead_torques(q, qd, np.zeros(5))


def test_task_torque_drives_the_commanded_twist(robot) -> None:
    """In the joint-damping metric, J W^-1 tau equals (1 + velocity_feedback) x the commanded twist."""
    rng = np.random.default_rng(0)
    gains = ImpedanceGains(max_linear_speed=10.0, max_angular_speed=10.0, torque_scale=1.0)
    w = np.asarray(gains.joint_damping)
    for _ in range(5):
        q = _q(rng)
        ctrl = CartesianImpedanceController(robot, gains, posture=q)  # no posture torque
        current = ctrl.pose(q)
        target = Pose(current.position + rng.uniform(-0.003, 0.003, 3),
                      rotvec_to_matrix(rng.uniform(-0.01, 0.01, 3)) @ current.rotation)
        tau = ctrl.torques(q, np.zeros(7), target)
        assert np.all(np.abs(tau) < ctrl.effort_limits)  # not saturated
        twist = robot.jacobian(q) @ (tau / w)
        expected = (1.0 + gains.velocity_feedback) * ctrl.commanded_twist(current, target)
        assert np.allclose(twist, expected, atol=1e-3 * np.abs(expected).max())


def test_posture_torque_stays_in_the_null_space(robot) -> None:
    rng = np.random.default_rng(1)
    q = _q(rng)
    ctrl = CartesianImpedanceController(robot, posture=np.asarray(DEFAULT_POSTURE) + 0.2)
    tau = ctrl.torques(q, np.zeros(7), ctrl.pose(q))
    assert np.linalg.norm(tau) > 0.5  # the posture spring acts ...
    twist = robot.jacobian(q) @ (tau / np.asarray(ctrl.gains.joint_damping))
    assert np.linalg.norm(twist) < 1e-3  # ... without moving the pinch point


def test_far_target_saturates_within_effort_limits(robot) -> None:
    q = np.asarray(DEFAULT_POSTURE)
    gains = ImpedanceGains(position_gain=1e4, max_linear_speed=1e3, torque_scale=0.5)
    ctrl = CartesianImpedanceController(robot, gains)
    tau = ctrl.torques(q, np.zeros(7), Pose(ctrl.pose(q).position + [0.5, 0.5, 0.5], np.eye(3)))
    limits = 0.5 * np.asarray(robot.effort_limits)[:7]
    assert np.all(np.abs(tau) <= limits + 1e-12) and np.any(np.isclose(np.abs(tau), limits))


def test_bad_input_is_a_clear_error(robot) -> None:
    ctrl = CartesianImpedanceController(robot)
    q = np.asarray(DEFAULT_POSTURE)
    with pytest.raises(ControlError, match="q must be 7"):
        ctrl.torques(q[:6], np.zeros(7), ctrl.pose(q))
    with pytest.raises(ControlError, match="qd must be 7 finite"):
        ctrl.torques(q, np.full(7, np.nan), ctrl.pose(q))
    with pytest.raises(ControlError, match="target must be"):
        ctrl.torques(q, np.zeros(7), np.eye(4))
    with pytest.raises(ControlError, match="posture must be 7"):
        ctrl.set_posture(np.zeros(6))
    with pytest.raises(ControlError, match="joint_damping"):
        ImpedanceGains(joint_damping=(1.0, 2.0))
    with pytest.raises(ControlError, match="position_gain"):
        ImpedanceGains(position_gain=-1.0)


def test_controller_drives_pinch_point_to_target_in_mujoco(robot) -> None:
    """Real MuJoCo cell, 20 Hz torque commands: the pinch point settles within 5 mm / 0.03 rad in 2.5 s."""
    env = StackingEnv(cell="primitive")
    obs = env.reset(seed=0)
    ctrl = CartesianImpedanceController(robot)
    start = ctrl.pose(obs.q[:7])
    target = Pose(start.position + [0.06, -0.08, 0.05], yaw_matrix(0.3) @ start.rotation)
    for _ in range(50):
        obs = env.step(np.concatenate([ctrl.torques(obs.q[:7], obs.qd[:7], target), [-1.0]]))
    err = ctrl.pose(obs.q[:7]).error_to(target)
    assert np.linalg.norm(err[:3]) < 0.005, err
    assert np.linalg.norm(err[3:]) < 0.03, err
    assert np.linalg.norm(obs.qd[:7]) < 0.05  # settled, not oscillating
