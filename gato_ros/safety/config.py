"""SafetyConfig: every setting of the safety layer; the safety node's ROS parameters mirror it one to one."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from gato_ros.interfaces import JOINT_NAMES


#: The smallest effort_scale: 0 would be a hold in disguise (use the e-stop or do not reset instead).
MIN_EFFORT_SCALE = 0.001


class SafetyConfigError(ValueError):
    """A safety setting is out of range or inconsistent."""


def _doc(text: str, lo: float | None = None, hi: float | None = None, constraints: str = "") -> dict:
    """Field metadata: the ROS parameter description, inclusive range and further constraint (ParameterDescriptor)."""
    meta: dict = {"doc": text}
    if lo is not None and hi is not None:
        meta["range"] = (lo, hi)
    if constraints:
        meta["constraints"] = constraints
    return meta


@dataclass(frozen=True)
class SafetyConfig:
    """Limits, timeouts and gains of the safety filter (Nm, rad, s); per-joint tuples follow `joint_names`."""

    robot_description: str = field(default="", metadata=_doc("URDF text (the ROS convention); wins over urdf_path"))
    urdf_path: str = field(default="", metadata=_doc("URDF file; empty = the package URDF"))
    joint_names: tuple[str, ...] = field(default=JOINT_NAMES, metadata=_doc("order of every effort array",
        constraints="non-empty, unique"))
    publish_rate_hz: float = field(default=100.0, metadata=_doc("rate of /effort_controller/commands", 1.0, 10000.0))
    wake_on_command: bool = field(
        default=True, metadata=_doc("publish as soon as a command arrives, not at the next tick: at most one such "
                                    "early output per period (at most 2x publish_rate_hz under a flood), the regular "
                                    "ticks follow one period after it; false: the fixed publish_rate_hz grid"),
    )
    command_timeout_s: float = field(default=0.25, metadata=_doc("hold when the newest command is older",
        0.001, 3600.0))
    state_timeout_s: float = field(default=0.25, metadata=_doc("hold when any joint's state is older", 0.001, 3600.0))
    max_effort_rate: float = field(default=800.0, metadata=_doc("torque rate limit of commands, Nm/s", 0.001, 1.0e6))
    position_margin_rad: float = field(default=0.15, metadata=_doc("damping zone inside each position limit", 0.0, 6.3))
    velocity_limit_scale: float = field(default=0.9, metadata=_doc("damp above this fraction of the URDF limit",
        0.001, 1.0))
    limit_damping: tuple[float, ...] = field(
        default=(40.0, 40.0, 20.0, 20.0, 4.0, 4.0, 4.0, 0.0),
        metadata=_doc("Nm s/rad near position/velocity limits, per joint (gripper entry unused)",
                      constraints="one value >= 0 per joint"),
    )
    hold_damping: tuple[float, ...] = field(
        default=(20.0, 20.0, 10.0, 10.0, 2.0, 2.0, 2.0, 0.0),
        metadata=_doc("Nm s/rad while holding, per joint (gripper entry unused)",
                      constraints="one value >= 0 per joint"),
    )
    damping_torque_limit: tuple[float, ...] = field(
        default=(40.0, 40.0, 20.0, 20.0, 4.5, 4.5, 4.5, 0.0),
        metadata=_doc("bound on every damping torque (hold and limit damping), Nm, per joint",
                      constraints="one value >= 0 per joint"),
    )
    plausible_position_margin_rad: float = field(
        default=0.5, metadata=_doc("a joint position beyond its limit by more than this is implausible (fault)",
                                   0.001, 10.0),
    )
    plausible_velocity_factor: float = field(
        default=2.0, metadata=_doc("an arm joint speed above this multiple of its URDF velocity limit is implausible",
                                   1.0, 100.0),
    )
    safe_start: bool = field(default=True, metadata=_doc("after a (re)start, hold until ~/reset"))
    hold_on_invalid_command: bool = field(
        default=True, metadata=_doc("a refused command (NaN/inf, wrong length) holds at once; false: the previous "
                                    "command stays until command_timeout_s"),
    )
    add_gravity_compensation: bool = field(
        default=False, metadata=_doc("add URDF gravity torques (for arms without their own gravity compensation)"),
    )
    latch_faults: bool = field(default=True, metadata=_doc("an internal fault holds until ~/reset"))
    effort_scale: float = field(
        default=1.0, metadata=_doc("scales every commanded arm effort before the rate limit (first contact: 0.3); "
                                   "damping, gravity and the gripper are not scaled", MIN_EFFORT_SCALE, 1.0,
                                   constraints="in [0.001, 1]: it can only reduce the commanded efforts"),
    )
    workspace_box: tuple[float, ...] = field(
        default=(), metadata=_doc("[x_min, y_min, z_min, x_max, y_max, z_max] (m, robot base frame) the pinch "
                                  "point must stay in, else hold; empty: no box",
                                  constraints="empty or 6 finite values with min < max"),
    )
    shadow: bool = field(
        default=False, metadata=_doc("shadow mode: the agent's commands never reach the arm; the arm holds or follows "
                                     "an announced operator (teleop), and what the agent's command would have given "
                                     "is published on /safety/shadow_output"),
    )
    diagnostics_period_s: float = field(default=1.0, metadata=_doc("period of /diagnostics", 0.01, 3600.0))

    def __post_init__(self) -> None:
        n = len(self.joint_names)
        if n == 0 or len(set(self.joint_names)) != n:
            raise SafetyConfigError(f"joint_names must be non-empty and unique, got {self.joint_names}")
        for name in ("publish_rate_hz", "command_timeout_s", "state_timeout_s", "max_effort_rate",
                     "diagnostics_period_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise SafetyConfigError(f"{name} must be a positive finite number, got {value}")
        if not (math.isfinite(self.position_margin_rad) and self.position_margin_rad >= 0):
            raise SafetyConfigError(f"position_margin_rad must be >= 0, got {self.position_margin_rad}")
        if not (0 < self.velocity_limit_scale <= 1):
            raise SafetyConfigError(f"velocity_limit_scale must be in (0, 1], got {self.velocity_limit_scale}")
        for name in ("plausible_position_margin_rad", "plausible_velocity_factor"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise SafetyConfigError(f"{name} must be a positive finite number, got {value}")
        if self.plausible_velocity_factor < 1:
            raise SafetyConfigError(f"plausible_velocity_factor must be >= 1, got {self.plausible_velocity_factor}")
        for name in ("limit_damping", "hold_damping", "damping_torque_limit"):
            gains = getattr(self, name)
            if len(gains) != n:
                raise SafetyConfigError(f"{name} needs one gain per joint ({n}: {list(self.joint_names)}), "
                                        f"got {len(gains)}")
            if not all(math.isfinite(g) and g >= 0 for g in gains):
                raise SafetyConfigError(f"{name} values must be finite and >= 0, got {gains}")
        if not (math.isfinite(self.effort_scale) and MIN_EFFORT_SCALE <= self.effort_scale <= 1):
            raise SafetyConfigError(f"effort_scale must be in [{MIN_EFFORT_SCALE}, 1] (it can only reduce efforts), "
                                    f"got {self.effort_scale}")
        box = self.workspace_box
        if box and (len(box) != 6 or not all(math.isfinite(v) for v in box)
                    or not all(box[i] < box[i + 3] for i in range(3))):
            raise SafetyConfigError(f"workspace_box must be empty or [x_min, y_min, z_min, x_max, y_max, z_max] "
                                    f"with finite values and each min < max, got {list(box)}")
