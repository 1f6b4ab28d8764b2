"""Hardware profiles (robots/<name>/hardware/): committed files are what gato_ros.robot.hardware writes, and their
joint names and limits, read back as plain YAML/XML, equal the registry's."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import yaml

from gato_ros.interfaces import EFFORT_OUTPUT_TOPIC
from gato_ros.robot.hardware import CONTROLLER, CONTROLLER_TYPE, HARDWARE_DIR, profile_files
from gato_ros.robot.registry import available_robots, load_robot


@pytest.mark.parametrize("name", available_robots())
def test_committed_profile_is_the_generated_one(name: str) -> None:
    desc = load_robot(name)
    for file, text in profile_files(desc).items():
        path = desc.folder / HARDWARE_DIR / file
        assert path.is_file(), f"{path} missing: run python -m gato_ros.robot.hardware"
        assert path.read_text() == text, f"{path} is stale: run python -m gato_ros.robot.hardware"


@pytest.mark.parametrize("name", available_robots())
def test_profile_joint_names_and_limits_equal_the_registry(name: str) -> None:
    desc = load_robot(name)
    folder = desc.folder / HARDWARE_DIR
    controllers = yaml.safe_load((folder / "controllers.yaml").read_text())
    assert controllers["controller_manager"]["ros__parameters"][CONTROLLER]["type"] == CONTROLLER_TYPE
    assert f"/{CONTROLLER}/commands" == EFFORT_OUTPUT_TOPIC  # the controller listens where safety publishes
    assert tuple(controllers[CONTROLLER]["ros__parameters"]["joints"]) == desc.arm_joints
    root = ET.fromstring((folder / "ros2_control.xml").read_text())
    assert root.find("hardware/plugin").text == desc.hardware_plugin
    joints = root.findall("joint")
    assert tuple(j.get("name") for j in joints) == desc.arm_joints
    for joint, effort, (lo, hi), vel in zip(joints, desc.effort_limits, desc.position_limits, desc.velocity_limits):
        def bounds(kind: str, iface: str) -> tuple[float, float]:
            el = joint.find(f"{kind}[@name='{iface}']")
            return float(el.find("param[@name='min']").text), float(el.find("param[@name='max']").text)

        assert bounds("command_interface", "effort") == (-effort, effort)
        assert bounds("state_interface", "position") == (lo, hi)
        assert bounds("state_interface", "velocity") == (-vel, vel)
