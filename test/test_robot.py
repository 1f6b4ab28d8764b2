"""RobotModel on the package URDF: names, SPEC limits, FK/Jacobian consistency, gravity torques, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from gato_ros.interfaces import JOINT_NAMES
from gato_ros.robot import RobotModel, URDFError, default_urdf_path

SPEC_EFFORT = [80, 80, 40, 40, 9, 9, 9, 1]
SPEC_POSITION = [(-3.0503, 3.0503), (-3.8095, 2.2736), (-3.0426, 3.0426), (-3.0439, 3.0439),
                 (-2.9761, 2.9761), (-2.9761, 2.9761), (-4.7124, 4.7124)]
SPEC_VELOCITY = [1.74, 1.328, 1.957, 1.957, 3.485, 3.485, 4.545]


@pytest.fixture(scope="module")
def robot() -> RobotModel:
    return RobotModel.from_file(default_urdf_path())


def _random_q(robot: RobotModel, rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(robot.position_limits[:7, 0], robot.position_limits[:7, 1])


def test_names_and_spec_limits(robot) -> None:
    assert robot.joint_names == list(JOINT_NAMES)
    assert robot.arm_joint_names == list(JOINT_NAMES[:7])
    np.testing.assert_allclose(robot.effort_limits, SPEC_EFFORT)
    np.testing.assert_allclose(robot.position_limits[:7], SPEC_POSITION)
    np.testing.assert_allclose(robot.position_limits[7], [0.0, 0.8])
    np.testing.assert_allclose(robot.velocity_limits[:7], SPEC_VELOCITY)
    assert robot.position_limits.shape == (8, 2) and robot.velocity_limits.shape == (8,)


def test_fk_is_a_rigid_transform_and_reaches_sensibly(robot) -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        t = robot.fk(_random_q(robot, rng))
        assert t.shape == (4, 4)
        np.testing.assert_allclose(t[:3, :3] @ t[:3, :3].T, np.eye(3), atol=1e-12)
        assert np.linalg.det(t[:3, :3]) == pytest.approx(1.0)
        assert np.linalg.norm(t[:3, 3]) < 1.6  # Sawyer reach ~1.26 m + tool


def test_jacobian_matches_finite_differences(robot) -> None:
    rng = np.random.default_rng(1)
    eps = 1e-6
    for _ in range(5):
        q = _random_q(robot, rng)
        jac = robot.jacobian(q)
        t0 = robot.fk(q)
        for i in range(7):
            dq = np.zeros(7)
            dq[i] = eps
            t1 = robot.fk(q + dq)
            np.testing.assert_allclose((t1[:3, 3] - t0[:3, 3]) / eps, jac[:3, i], atol=1e-5)
            dr = t1[:3, :3] @ t0[:3, :3].T  # small rotation in the base frame
            omega = np.array([dr[2, 1] - dr[1, 2], dr[0, 2] - dr[2, 0], dr[1, 0] - dr[0, 1]]) / (2 * eps)
            np.testing.assert_allclose(omega, jac[3:, i], atol=1e-5)


def test_gravity_torques_are_the_gradient_of_potential_energy(robot) -> None:
    """tau_g = dV/dq with V = sum m g z_com: a check independent of the implementation's cross products."""
    def potential(q: np.ndarray) -> float:
        poses, _ = robot.link_poses(q)
        total = 0.0
        for link, inertial in robot.urdf.links.items():
            if inertial is not None:
                total += inertial.mass * 9.81 * (poses[link][:3, :3] @ inertial.com + poses[link][:3, 3])[2]
        return total

    rng = np.random.default_rng(2)
    for _ in range(3):
        q = _random_q(robot, rng)
        grad = [(potential(q + e) - potential(q - e)) / 2e-6 for e in np.eye(7) * 1e-6]
        np.testing.assert_allclose(robot.gravity_torques(q), grad, atol=1e-5)
    assert abs(robot.gravity_torques(np.zeros(7))[0]) < 1e-9  # vertical first axis: no gravity torque


def test_gripper_mass_counts(robot) -> None:
    assert 1.3 < robot.urdf.links["gripper_base"].mass < 1.6  # FTS300 (0.3 kg) + 2F-85 (0.9 kg) + mounts


def test_bad_input_is_a_clear_error(robot) -> None:
    with pytest.raises(ValueError, match="q must be 7"):
        robot.fk(np.zeros(6))
    with pytest.raises(ValueError, match="q must be 7 finite"):
        robot.jacobian(np.full(7, np.nan))
    with pytest.raises(URDFError, match="not well-formed"):
        RobotModel.from_urdf("<robot")
    with pytest.raises(URDFError, match="lacks joints"):
        RobotModel.from_urdf('<robot name="x"><link name="a"/></robot>')
    with pytest.raises(URDFError, match="not found"):
        RobotModel.from_file("/nonexistent/robot.urdf")
    text = default_urdf_path().read_text().replace('<limit lower="-3.0503"', '<limitx lower="-3.0503"')
    with pytest.raises(URDFError, match="right_j0.*need a <limit>"):
        RobotModel.from_urdf(text)


def test_link_poses_remembers_the_last_joint_state_only(robot) -> None:
    """One control step asks for the same q several times: computed once; another q recomputes; fk hands out a copy."""
    q = np.linspace(-0.5, 0.5, 7)
    first = robot.link_poses(q)
    assert robot.link_poses(q.copy()) is first
    other = robot.link_poses(q + 1e-9)
    assert other is not first and not np.array_equal(other[0][robot.tool_link], first[0][robot.tool_link])
    pose = robot.fk(q)
    pose[:3, 3] = 99.0
    assert not np.allclose(robot.fk(q)[:3, 3], 99.0)
