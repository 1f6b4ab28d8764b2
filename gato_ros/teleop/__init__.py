"""Teleoperation: twist + gripper -> joint torques (control.py) and a terminal keyboard twist source (keyboard.py)."""

from gato_ros.teleop.control import TeleopConfig, TeleopController, TeleopError, TwistWatchdog, gripper_effort

__all__ = ["TeleopConfig", "TeleopController", "TeleopError", "TwistWatchdog", "gripper_effort"]
