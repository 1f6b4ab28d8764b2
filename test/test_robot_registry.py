"""The robot registry: every entry loads, the Sawyer entry is what the code and the Sawyer URDF use today, the
Panda entry holds the datasheet limits, and malformed descriptions fail with the file and the field named."""

from __future__ import annotations

import numpy as np
import pytest

from gato_ros.interfaces import ARM_JOINTS, GRIPPER_JOINT, JOINT_NAMES
from gato_ros.robot import RobotModel, default_urdf_path
from gato_ros.robot.registry import (DEFAULT_ROBOT, RobotRegistryError, available_robots, load_robot,
                                     parse_description)


def test_registry_lists_both_arms_and_each_loads() -> None:
    assert {"sawyer", "panda"} <= set(available_robots())
    for name in available_robots():
        desc = load_robot(name)
        assert desc.name == name and len(desc.joint_names) == 8 and desc.limits_source
        assert desc.urdf_path().is_file()


def test_sawyer_entry_is_the_layout_and_urdf_in_use() -> None:
    desc = load_robot(DEFAULT_ROBOT)
    assert desc.name == "sawyer" and desc.arm_joints == ARM_JOINTS and desc.gripper.joint == GRIPPER_JOINT
    assert desc.joint_names == JOINT_NAMES
    assert desc.urdf_path() == default_urdf_path()
    robot = RobotModel.from_file(default_urdf_path())
    np.testing.assert_allclose(robot.effort_limits, desc.all_effort_limits())
    np.testing.assert_allclose(robot.velocity_limits, desc.all_velocity_limits())
    np.testing.assert_allclose(robot.position_limits, desc.all_position_limits())
    from gato_ros.sim import env, robot_mjcf

    assert env.HOME_Q == desc.home_q and robot_mjcf.GRIPPER_FORCE == desc.gripper.force


def test_panda_entry_has_the_datasheet_limits_and_franka_ros2_names() -> None:
    desc = load_robot("panda")
    assert desc.arm_joints == tuple(f"panda_joint{i}" for i in range(1, 8))
    assert desc.gripper.joint == "panda_finger_joint1"
    assert desc.effort_limits == (87.0, 87.0, 87.0, 87.0, 12.0, 12.0, 12.0)
    assert "frankaemika" in desc.limits_source
    fr3 = load_robot("panda", joint_prefix="fr3_")
    assert fr3.arm_joints[0] == "fr3_joint1" and fr3.gripper.joint == "fr3_finger_joint1"
    assert RobotModel.for_robot(fr3).joint_names == list(fr3.joint_names)


def _raw() -> dict:
    import yaml

    return yaml.safe_load((load_robot("sawyer").folder / "robot.yaml").read_text())


@pytest.mark.parametrize("field,value,message", [
    ("arm_joints", ["a"] * 7, "distinct"),
    ("effort_limits", [80.0] * 6, "effort_limits"),
    ("effort_limits", [80.0] * 6 + [-1.0], "> 0"),
    ("position_limits", [[1.0, -1.0]] * 7, "lower < upper"),
    ("home_q", [9.0] * 7, "outside position_limits"),
    ("gripper", {"joint": "g"}, "gripper needs"),
])
def test_bad_descriptions_name_the_field(tmp_path, field, value, message) -> None:
    raw = _raw()
    raw[field] = value
    with pytest.raises(RobotRegistryError, match=message) as info:
        parse_description(raw, tmp_path / "robot.yaml")
    assert str(tmp_path) in str(info.value)


def test_unknown_robot_lists_the_known_ones() -> None:
    with pytest.raises(RobotRegistryError, match="sawyer"):
        load_robot("ur5e")
    with pytest.raises(RobotRegistryError, match="no joint_prefix"):
        load_robot("sawyer", joint_prefix="x_")
