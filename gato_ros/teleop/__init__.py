"""Teleoperation: parameters (config.py), twist + gripper -> joint torques (control.py), a terminal keyboard twist
source (keyboard.py, keyboard_node.py). The node: gato_ros.nodes.teleop."""

from gato_ros.teleop.config import TeleopConfig, TeleopError
from gato_ros.teleop.control import TeleopController, TwistWatchdog, gripper_effort

__all__ = ["TeleopConfig", "TeleopController", "TeleopError", "TwistWatchdog", "gripper_effort"]
