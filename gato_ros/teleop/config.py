"""TeleopConfig: the teleop node's parameters (mirrored one to one as ROS parameters; config/teleop.yaml)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from gato_ros.interfaces import JOINT_NAMES


class TeleopError(ValueError):
    """Bad teleop input or parameter: wrong sizes, non-finite values, out-of-range settings."""


@dataclass(frozen=True)
class TeleopConfig:
    """Parameters of the teleop node (mirrored one to one as ROS parameters; config/teleop.yaml)."""

    control_rate_hz: float = field(default=20.0, metadata={"doc": "/gato/effort_command rate (= demo step rate)",
                                                           "range": (0.1, 1000.0)})
    twist_timeout_s: float = field(default=0.5, metadata={"doc": "older /teleop/twist -> hold the current pose",
                                                          "range": (0.001, 3600.0)})
    max_linear_speed: float = field(default=0.15, metadata={"doc": "m/s cap on the commanded pinch-point speed",
                                                            "range": (0.001, 2.0)})
    max_angular_speed: float = field(default=0.8, metadata={"doc": "rad/s cap on the commanded rotation speed",
                                                            "range": (0.001, 10.0)})
    max_lead_m: float = field(default=0.05, metadata={"doc": "how far the target may run ahead of the arm",
                                                      "range": (0.001, 1.0)})
    reanchor_distance_m: float = field(default=0.2, metadata={"doc": "arm this far from the target (sim reset, "
                                                                        "driver restart): target jumps to the arm",
                                                              "range": (0.001, 10.0)})
    initial_gripper: float = field(default=0.0, metadata={"doc": "gripper command before any /teleop/gripper "
                                                                 "(0 open, 1 closed)", "range": (0.0, 1.0)})
    urdf_path: str = field(default="", metadata={"doc": "URDF file; empty = robot_description, else the package URDF"})
    robot_description: str = field(default="", metadata={"doc": "URDF text (the ROS convention)"})
    joint_names: tuple[str, ...] = field(default=JOINT_NAMES, metadata={
        "doc": "joint order of the effort command", "constraints": "7 arm joints then the gripper"})
    diagnostics_period_s: float = field(default=1.0, metadata={"doc": "/diagnostics period", "range": (0.01, 3600.0)})

    def __post_init__(self) -> None:
        for name in ("control_rate_hz", "twist_timeout_s", "max_linear_speed", "max_angular_speed", "max_lead_m",
                     "reanchor_distance_m", "diagnostics_period_s"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise TeleopError(f"TeleopConfig.{name} must be a finite number > 0, got {value!r}")
        if not 0.0 <= self.initial_gripper <= 1.0:
            raise TeleopError(f"initial_gripper must be in [0, 1] (0 open, 1 closed), got {self.initial_gripper}")
        if len(self.joint_names) != 8:
            raise TeleopError(f"joint_names must list the 7 arm joints and the gripper, got {self.joint_names}")


@dataclass(frozen=True)
class JoyTeleopConfig:
    """Parameters of the joy_teleop node (mirrored one to one as ROS parameters; config/joy_teleop.yaml)."""

    device: str = field(default="gamepad", metadata={"doc": "device section of the mapping file (gamepad, "
                                                            "spacemouse, or your own)"})
    mapping_file: str = field(default="", metadata={"doc": "YAML of device mappings (Joy axes/buttons -> twist, "
                                                           "gripper); empty = the package config/teleop_devices.yaml"})
    rate_hz: float = field(default=20.0, metadata={"doc": "/teleop/twist and /teleop/gripper rate",
                                                   "range": (0.1, 1000.0)})
    joy_timeout_s: float = field(default=0.5, metadata={"doc": "no /joy for this long: publish nothing (the teleop "
                                                               "node then holds the pose)", "range": (0.001, 3600.0)})
    diagnostics_period_s: float = field(default=1.0, metadata={"doc": "/diagnostics period", "range": (0.01, 3600.0)})

    def __post_init__(self) -> None:
        if not self.device:
            raise TeleopError("device must name a section of the mapping file")
        for name in ("rate_hz", "joy_timeout_s", "diagnostics_period_s"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) > 0):
                raise TeleopError(f"{name} must be > 0, got {getattr(self, name)}")
