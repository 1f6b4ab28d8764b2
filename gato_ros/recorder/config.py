"""RecorderConfig: the recorder node's parameters (mirrored one to one as ROS parameters; config/recorder.yaml)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from gato_ros.interfaces import OBJECT_FRAMES
from gato_ros.recorder.commander import AUTO, SOURCES


class RecorderError(ValueError):
    """A recorder parameter is invalid."""


@dataclass(frozen=True)
class RecorderConfig:
    """Parameters of the recorder node (mirrored one to one as ROS parameters; config/recorder.yaml)."""

    output_dir: str = field(default="demos/teleop", metadata={"doc": "one rosbag2 (MCAP) directory per episode is "
                                                                   "written under here"})
    instruction: str = field(default="stack the red object on the blue object",
                             metadata={"doc": "instruction text stored with each episode"})
    source: str = field(default=AUTO, metadata={
        "doc": "episode label: 'auto' = the announced role (/gato/commander) of the nodes whose commands were "
               "recorded; or a fixed 'teleop', 'agent' or 'sim_expert' (a commander that cannot announce)",
        "constraints": f"one of {', '.join((AUTO,) + SOURCES)}"})
    camera: str = field(default="basket_front_left", metadata={"doc": "camera name stored with the episode"})
    object_frame: str = field(default="body", metadata={
        "doc": "which frame of each object /sim/object_poses carries (object_frame:= launch argument), stored with "
               "the episode", "constraints": "one of body, grasp"})
    control_rate_hz: float = field(default=20.0, metadata={"doc": "rate of /gato/effort_command (demo step rate)",
                                                           "range": (0.1, 1000.0)})
    auto_start: bool = field(default=False, metadata={"doc": "start recording at once and restart on each new "
                                                             "sim episode"})
    flush_period_s: float = field(default=1.0, metadata={"doc": "write buffered data to disk this often",
                                                         "range": (0.01, 3600.0)})
    name_prefix: str = field(default="episode", metadata={"doc": "episode folders are <name_prefix>_<date>_<time>_<n>"})
    record_outputs: bool = field(default=False, metadata={
        "doc": "also record the safety node's outputs: the arm's efforts and, in shadow mode, the shadow output "
               "(`gato-ros sim2real shadow BAG` compares them); launch argument shadow:=true sets it"})
    diagnostics_period_s: float = field(default=1.0, metadata={"doc": "/diagnostics period", "range": (0.01, 3600.0)})

    def __post_init__(self) -> None:
        if not self.output_dir:
            raise RecorderError("output_dir must name a directory")
        if self.source not in (AUTO,) + SOURCES:
            raise RecorderError(f"source must be one of {(AUTO,) + SOURCES}, got {self.source!r}")
        if self.object_frame not in OBJECT_FRAMES:
            raise RecorderError(f"object_frame must be one of {OBJECT_FRAMES}, got {self.object_frame!r}")
        for name in ("control_rate_hz", "flush_period_s", "diagnostics_period_s"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) > 0):
                raise RecorderError(f"{name} must be > 0, got {getattr(self, name)}")
