"""SimConfig: the sim node's parameters (mirrored one to one as ROS parameters; config/sim.yaml)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from gato_ros.interfaces import OBJECT_FRAMES
from gato_ros.robot.registry import DEFAULT_ROBOT


class SimConfigError(ValueError):
    """A sim node parameter is out of range."""


@dataclass(frozen=True)
class SimConfig:
    """Parameters of the sim node (mirrored one to one as ROS parameters)."""

    seed: int = field(default=0, metadata={"doc": "seed of the first episode; ~/reset uses seed+1, seed+2, ...",
                                           "range": (0, 2**31 - 1)})
    object_set: str = field(default="rgb_train_random", metadata={"doc": "RGB object triplet set"})
    cell: str = field(default="primitive", metadata={"doc": "'primitive' (fast) or 'real' (benchmark meshes)",
                                                     "constraints": "one of primitive, real"})
    camera: str = field(default="basket_front_left", metadata={"doc": "camera published on /camera/image_raw"})
    robot: str = field(default=DEFAULT_ROBOT, metadata={"doc": "registry arm in the cell (robot:= launch argument)",
                                                   "constraints": "one of sawyer, panda"})
    object_frame: str = field(default="body", metadata={
        "doc": "/sim/object_poses: each object's body frame, or its grasp frame (x along its narrowest horizontal "
               "width); must match the model's gato.json tokenizer.object_frame (stacking.launch.py passes it)",
        "constraints": "one of body, grasp"})
    image_width: int = field(default=64, metadata={"doc": "camera image width (px)", "range": (16, 4096)})
    image_height: int = field(default=64, metadata={"doc": "camera image height (px)", "range": (16, 4096)})
    real_time_factor: float = field(default=1.0, metadata={"doc": "sim seconds per wall second; 0 = max speed",
                                                           "range": (0.0, 1000.0)})
    control_rate_hz: float = field(default=20.0, metadata={"doc": "image and camera_info rate",
                                                           "range": (0.1, 1000.0)})
    joint_state_rate_hz: float = field(default=100.0, metadata={"doc": "/joint_states and /clock rate (sim time); "
                                                                       ">= control_rate_hz",
                                                                "range": (0.1, 10000.0)})
    randomization: str = field(default="", metadata={
        "doc": "domain randomization: a preset (none, mild, strong: config/randomization/) or a YAML file; "
               "empty = none; drawn per episode from its seed"})
    dynamics: str = field(default="", metadata={
        "doc": "arm dynamics file (joint damping, friction, armature, torque gain; `gato-ros sim2real fit` writes "
               "one); empty = the cell's nominal values"})
    joint_state_latency_s: float = field(default=0.0, metadata={
        "doc": "transport: /joint_states (and /sim/object_poses) published this long after the instant they measure "
               "(sim time; the stamp is that instant)", "range": (0.0, 10.0)})
    joint_state_jitter_s: float = field(default=0.0, metadata={
        "doc": "transport: plus a uniform [0, jitter] delay per message (order kept)", "range": (0.0, 10.0)})
    image_latency_s: float = field(default=0.0, metadata={
        "doc": "transport: images (and camera_info) published this long after capture (sim time; stamp = capture)",
        "range": (0.0, 10.0)})
    image_jitter_s: float = field(default=0.0, metadata={
        "doc": "transport: plus a uniform [0, jitter] delay per image (order kept)", "range": (0.0, 10.0)})
    image_drop_rate: float = field(default=0.0, metadata={
        "doc": "transport: share of camera frames never published", "range": (0.0, 0.99)})
    command_latency_s: float = field(default=0.0, metadata={
        "doc": "transport: an effort command takes effect this long (sim time) after it arrives", "range": (0.0, 10.0)})
    publish_clock: bool = field(default=True, metadata={"doc": "publish /clock (sim time) for use_sim_time"})
    diagnostics_period_s: float = field(default=1.0, metadata={"doc": "/diagnostics period", "range": (0.01, 3600.0)})
    viewer: bool = field(default=False, metadata={"doc": "open MuJoCo's interactive viewer (passive) on the cell when "
                                                         "a display exists; without one: a warning, no window"})

    def __post_init__(self) -> None:
        if self.cell not in ("primitive", "real"):
            raise SimConfigError(f"cell must be 'primitive' or 'real', got {self.cell!r}")
        if self.object_frame not in OBJECT_FRAMES:
            raise SimConfigError(f"object_frame must be one of {OBJECT_FRAMES}, got {self.object_frame!r}")
        if self.image_width < 16 or self.image_height < 16:
            raise SimConfigError(f"image size must be at least 16x16, got {self.image_width}x{self.image_height}")
        if not (math.isfinite(self.real_time_factor) and self.real_time_factor >= 0):
            raise SimConfigError(f"real_time_factor must be >= 0 (0 = as fast as possible), "
                                 f"got {self.real_time_factor}")
        for name in ("control_rate_hz", "joint_state_rate_hz", "diagnostics_period_s"):
            if not getattr(self, name) > 0:
                raise SimConfigError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("joint_state_latency_s", "joint_state_jitter_s", "image_latency_s", "image_jitter_s",
                     "command_latency_s"):
            if not (math.isfinite(getattr(self, name)) and 0 <= getattr(self, name) <= 10):
                raise SimConfigError(f"{name} must be in [0, 10] s, got {getattr(self, name)}")
        if not 0 <= self.image_drop_rate < 1:
            raise SimConfigError(f"image_drop_rate must be in [0, 1), got {self.image_drop_rate}")
        if self.joint_state_rate_hz < self.control_rate_hz:
            raise SimConfigError("joint_state_rate_hz must be >= control_rate_hz")
