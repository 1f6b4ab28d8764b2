"""The Panda's generated URDF and its MuJoCo cells agree: joint names, datasheet limits, pinch-point FK (< 2 mm),
gravity torques; the registry's `joint_prefix` renames both alike. Skipped without robosuite's assets."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from gato_ros.robot import RobotModel
from gato_ros.robot.registry import load_robot
from gato_ros.sim import robot_mjcf, scene
from helpers import robosuite_available

DATASHEET_EFFORT = [87, 87, 87, 87, 12, 12, 12]


pytestmark = pytest.mark.skipif(not robosuite_available(), reason="robosuite (Panda assets) not installed")


@pytest.fixture(scope="module", params=["panda_", "fr3_"])
def desc(request):
    return load_robot("panda", joint_prefix=request.param)


@pytest.fixture(scope="module")
def robot(desc) -> RobotModel:
    return RobotModel.for_robot(desc)


@pytest.fixture(scope="module", params=["primitive", "real"])
def cell(request, desc) -> tuple[mujoco.MjModel, mujoco.MjData, np.ndarray]:
    if request.param == "real":
        try:
            from gato_ros.sim import assets

            assets.basket_xml()
        except FileNotFoundError:
            pytest.skip("dm-robotics asset packages not installed")
    from gato_ros.sim.robots import sim_arm

    spec = scene.build_spec(request.param, ("s0", "s0", "s0"), "panda")
    if desc.joint_prefix != "panda_":  # the arm alone with the renamed joints
        arm = sim_arm("panda", request.param, desc.joint_prefix)
        spec = arm.spec
        spec.body(arm.base_body).pos = list(arm.base_position)
    model = spec.compile()
    adr = np.array([model.joint(j).qposadr[0] for j in desc.arm_joints])
    return model, mujoco.MjData(model), adr


def _base(model, data):
    from gato_ros.sim import panda_mjcf

    b = model.body(panda_mjcf.BASE_BODY).id
    return data.xpos[b], data.xmat[b].reshape(3, 3)


def test_joint_names_and_datasheet_limits(desc, robot, cell) -> None:
    model, _, _ = cell
    assert robot.joint_names == list(desc.joint_names)
    assert desc.arm_joints[0] == f"{desc.joint_prefix}joint1"
    assert desc.gripper.joint == f"{desc.joint_prefix}finger_joint1"
    np.testing.assert_allclose(robot.effort_limits[:7], DATASHEET_EFFORT)
    np.testing.assert_allclose(robot.effort_limits, desc.all_effort_limits())
    np.testing.assert_allclose(robot.velocity_limits, desc.all_velocity_limits())
    np.testing.assert_allclose(robot.position_limits, desc.all_position_limits())
    for i, name in enumerate(desc.arm_joints):
        j = model.joint(name)
        np.testing.assert_allclose(model.jnt_range[j.id], robot.position_limits[i], atol=1e-9)
        act = model.actuator(robot_mjcf.ARM_ACTUATORS[i])
        assert model.actuator_trnid[act.id][0] == j.id
        np.testing.assert_allclose(model.actuator_ctrlrange[act.id], [-DATASHEET_EFFORT[i], DATASHEET_EFFORT[i]])
    finger = model.joint(desc.gripper.mjcf_joint).id
    np.testing.assert_allclose(model.jnt_range[finger], robot.position_limits[7])
    np.testing.assert_allclose(model.actuator_ctrlrange[model.actuator(robot_mjcf.GRIP_ACTUATOR).id], [-1.0, 1.0])


def test_pinch_fk_within_2mm_at_random_configurations(robot, cell) -> None:
    model, data, adr = cell
    rng = np.random.default_rng(0)
    site = model.site(robot_mjcf.PINCH_SITE).id
    for _ in range(50):
        q = rng.uniform(robot.position_limits[:7, 0], robot.position_limits[:7, 1])
        data.qpos[:] = model.qpos0
        data.qpos[adr] = q
        mujoco.mj_kinematics(model, data)
        pos, rot = _base(model, data)
        t = robot.fk(q)
        assert np.linalg.norm(t[:3, 3] - rot.T @ (data.site_xpos[site] - pos)) < 0.002
        np.testing.assert_allclose(t[:3, :3], rot.T @ data.site_xmat[site].reshape(3, 3), atol=1e-6)


def test_gravity_torques_match_qfrc_bias_at_rest(robot, cell) -> None:
    model, data, adr = cell
    rng = np.random.default_rng(1)
    for _ in range(20):
        q = rng.uniform(robot.position_limits[:7, 0], robot.position_limits[:7, 1])
        data.qpos[:] = model.qpos0
        data.qpos[adr] = q
        data.qvel[:] = 0.0
        mujoco.mj_forward(model, data)
        np.testing.assert_allclose(robot.gravity_torques(q), data.qfrc_bias[adr], atol=1e-4)


def test_gravcomp_cancels_gravity_on_the_arm(cell) -> None:
    model, data, adr = cell
    data.qpos[:] = model.qpos0
    data.qpos[adr] = [0.3, -0.5, 0.2, -1.5, -0.3, 1.8, 0.1]
    data.qvel[:] = 0.0
    mujoco.mj_forward(model, data)
    np.testing.assert_allclose(data.qfrc_gravcomp[adr], data.qfrc_bias[adr], atol=1e-6)


def test_home_posture_puts_the_pinch_above_the_basket_pointing_down(desc, cell) -> None:
    """The registry's home_q: pinch point 0.25 m above the basket centre, z down, as the Sawyer's HOME_Q."""
    model, data, adr = cell
    data.qpos[:] = model.qpos0
    data.qpos[adr] = desc.home_q
    mujoco.mj_kinematics(model, data)
    site = model.site(robot_mjcf.PINCH_SITE).id
    np.testing.assert_allclose(data.site_xpos[site], [0.0, 0.0, 0.25], atol=2e-3)
    np.testing.assert_allclose(data.site_xmat[site].reshape(3, 3), np.diag([1.0, -1.0, -1.0]), atol=2e-3)
