"""The URDF and the MuJoCo cells agree: joint names, limits, pinch-point FK (< 2 mm), gravity torques."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from gato_ros.robot import RobotModel, default_urdf_path
from gato_ros.sim import robot_mjcf, scene



def _real_available() -> bool:
    try:
        from gato_ros.sim import assets

        assets.sawyer_xml()
        return True
    except FileNotFoundError:
        return False


@pytest.fixture(scope="module")
def robot() -> RobotModel:
    return RobotModel.from_file(default_urdf_path())


@pytest.fixture(scope="module", params=["primitive", "real"])
def cell(request) -> tuple[mujoco.MjModel, mujoco.MjData]:
    if request.param == "real" and not _real_available():
        pytest.skip("dm-robotics asset packages not installed")
    model = scene.build_model(request.param, ("s0", "s0", "s0"))
    return model, mujoco.MjData(model)


def _base(model, data):
    b = model.body(robot_mjcf.BASE_BODY).id
    return data.xpos[b], data.xmat[b].reshape(3, 3)


def test_joint_names_and_limits(robot, cell) -> None:
    model, _ = cell
    for i, name in enumerate(robot.arm_joint_names):
        j = model.joint(name)
        np.testing.assert_allclose(model.jnt_range[j.id], robot.position_limits[i], atol=1e-9)
        act = model.actuator(robot_mjcf.ARM_ACTUATORS[i])
        assert model.actuator_trnid[act.id][0] == j.id
        np.testing.assert_allclose(model.actuator_ctrlrange[act.id], [-robot.effort_limits[i], robot.effort_limits[i]])
    driver = model.joint(robot_mjcf.GRIPPER_DRIVER_JOINT).id
    np.testing.assert_allclose(model.jnt_range[driver], robot.position_limits[7])
    grip = model.actuator(robot_mjcf.GRIP_ACTUATOR).id
    np.testing.assert_allclose(model.actuator_ctrlrange[grip], [-1.0, 1.0])


def test_pinch_fk_within_2mm_at_random_configurations(robot, cell) -> None:
    model, data = cell
    rng = np.random.default_rng(0)
    site = model.site(robot_mjcf.PINCH_SITE).id
    for _ in range(50):
        q = rng.uniform(robot.position_limits[:7, 0], robot.position_limits[:7, 1])
        data.qpos[:] = model.qpos0
        data.qpos[:7] = q
        mujoco.mj_kinematics(model, data)
        pos, rot = _base(model, data)
        p_mj = rot.T @ (data.site_xpos[site] - pos)
        r_mj = rot.T @ data.site_xmat[site].reshape(3, 3)
        t = robot.fk(q)
        assert np.linalg.norm(t[:3, 3] - p_mj) < 0.002
        np.testing.assert_allclose(t[:3, :3], r_mj, atol=1e-6)


def test_gravity_torques_match_qfrc_bias_at_rest(robot, cell) -> None:
    model, data = cell
    rng = np.random.default_rng(1)
    for _ in range(20):
        q = rng.uniform(robot.position_limits[:7, 0], robot.position_limits[:7, 1])
        data.qpos[:] = model.qpos0
        data.qpos[:7] = q
        data.qvel[:] = 0.0
        mujoco.mj_forward(model, data)
        np.testing.assert_allclose(robot.gravity_torques(q), data.qfrc_bias[:7], atol=1e-4)


def test_gravcomp_cancels_gravity_on_the_arm(cell) -> None:
    """Commanded efforts sit on top of gravity compensation: passive gravcomp force equals the bias."""
    model, data = cell
    data.qpos[:] = model.qpos0
    data.qpos[:7] = [0.3, -1.0, 0.2, 1.5, -0.3, 0.8, 0.1]
    data.qvel[:] = 0.0
    mujoco.mj_forward(model, data)
    np.testing.assert_allclose(data.qfrc_gravcomp[:7], data.qfrc_bias[:7], atol=1e-6)
