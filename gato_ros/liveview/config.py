"""FoxgloveConfig: the foxglove node's parameters (mirrored one to one as ROS parameters; config/foxglove.yaml)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field


class LiveViewError(ValueError):
    """A foxglove node parameter is invalid."""


@dataclass(frozen=True)
class FoxgloveConfig:
    """Parameters of the foxglove node (mirrored one to one as ROS parameters; config/foxglove.yaml)."""

    host: str = field(default="127.0.0.1", metadata={
        "doc": "address the Foxglove WebSocket server binds; 127.0.0.1 = this machine only (reach a headless robot "
               "through an SSH tunnel), 0.0.0.0 = every interface (no authentication: trusted networks only)"})
    port: int = field(default=8765, metadata={"doc": "TCP port of the WebSocket server (Foxglove's default 8765); "
                                                     "0 = any free port (logged, and in /diagnostics)",
                                              "range": (0, 65535)})
    image_rate_hz: float = field(default=20.0, metadata={"doc": "most camera frames per second sent to Foxglove",
                                                         "range": (0.1, 1000.0)})
    state_rate_hz: float = field(default=50.0, metadata={
        "doc": "most joint states, safety outputs and arm poses per second sent to Foxglove", "range": (0.1, 1000.0)})
    urdf_path: str = field(default="", metadata={"doc": "URDF file for the arm pose; empty = robot_description, "
                                                        "else the package URDF"})
    robot_description: str = field(default="", metadata={"doc": "URDF text (the ROS convention)"})
    diagnostics_period_s: float = field(default=1.0, metadata={"doc": "/diagnostics period", "range": (0.01, 3600.0)})

    def __post_init__(self) -> None:
        if not self.host:
            raise LiveViewError("host must name an address (127.0.0.1, 0.0.0.0, ...)")
        if not 0 <= self.port <= 65535:
            raise LiveViewError(f"port must be in [0, 65535], got {self.port}")
        for name in ("image_rate_hz", "state_rate_hz", "diagnostics_period_s"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) > 0):
                raise LiveViewError(f"{name} must be > 0, got {getattr(self, name)}")
