"""Teleoperation: parameters (config.py), twist + gripper -> joint torques (control.py), terminal keys -> twists
(keyboard.py). The nodes: gato_ros.nodes.teleop and gato_ros.nodes.keyboard (`gato-ros record`)."""

from gato_ros.teleop.config import JoyTeleopConfig, TeleopConfig, TeleopError
from gato_ros.teleop.control import TeleopController, TwistWatchdog, gripper_effort

__all__ = ["JoyTeleopConfig", "TeleopConfig", "TeleopController", "TeleopError", "TwistWatchdog", "gripper_effort"]
