"""Per-arm node parameters (config/robots/<name>.yaml, read for robot:=NAME) agree with the registry, and a model
names the arm it was trained for (gato.json robot.name), which the agent checks."""

from __future__ import annotations

import json

import pytest
import yaml

from gato_ros.agent.layout import JointLayoutError, check_robot
from gato_ros.config import ConfigError, GatoConfig, default_config
from gato_ros.paths import config_dir, models_dir
from gato_ros.robot.registry import available_robots, load_robot
from gato_ros.safety import SafetyConfig


@pytest.mark.parametrize("name", available_robots())
def test_every_registry_arm_has_node_parameters_naming_its_joints(name: str) -> None:
    desc = load_robot(name)
    params = yaml.safe_load((config_dir() / "robots" / f"{name}.yaml").read_text())
    for node in ("safety", "agent", "teleop"):
        assert tuple(params[node]["ros__parameters"]["joint_names"]) == desc.joint_names, node
    assert params["sim"]["ros__parameters"]["robot"] == name
    assert params["agent"]["ros__parameters"]["robot"] == name
    base = yaml.safe_load((config_dir() / "safety.yaml").read_text())["safety"]["ros__parameters"]
    merged = {k: v for k, v in {**base, **params["safety"]["ros__parameters"]}.items()}
    SafetyConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in merged.items()})  # consistent lengths


def test_gato_json_names_the_robot_and_old_files_read_as_sawyer(tmp_path) -> None:
    cfg = default_config()
    assert cfg.robot.name == "sawyer"
    data = json.loads((models_dir() / "default" / "gato.json").read_text())
    data["robot"].pop("name", None)  # a file written before the registry
    assert GatoConfig.from_dict(data).robot.name == "sawyer"
    data["robot"]["name"] = "panda"
    assert GatoConfig.from_dict(data).robot.name == "panda"
    data["robot"]["name"] = 3
    with pytest.raises(ConfigError):
        GatoConfig.from_dict(data)


def test_agent_refuses_a_model_of_another_arm() -> None:
    check_robot("panda", "panda")
    with pytest.raises(JointLayoutError, match="trained for robot 'sawyer'.*drives 'panda'"):
        check_robot("sawyer", "panda")
