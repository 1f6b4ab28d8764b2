"""AgentConfig: the agent node's parameters as a frozen dataclass (ROS parameters mirror its fields)."""

from __future__ import annotations

from dataclasses import dataclass, field

from gato_ros.config import PROVIDERS
from gato_ros.interfaces import JOINT_NAMES, OBJECT_FRAMES
from gato_ros.robot.registry import DEFAULT_ROBOT


#: What starts a control step: each camera frame (at most control_rate_hz), or a timer at control_rate_hz.
TRIGGERS = ("image", "timer")


class AgentConfigError(ValueError):
    """A parameter of the agent has an invalid value."""


@dataclass(frozen=True)
class AgentConfig:
    """Agent parameters (SPEC `agent` node). Empty `model_dir` means the default model, empty `prompt_demo` none."""

    model_dir: str = field(default="", metadata={"doc": "model directory (gato.json + ONNX graphs); empty: "
                                                        "models/default, else the only model under models/"})
    prompt_demo: str = field(default="", metadata={"doc": "rosbag2 directory of one demonstration fed as the prompt; "
                                                          "empty: none"})
    control_rate_hz: float = field(default=20.0, metadata={"doc": "control ticks per second (/gato/effort_command "
                                                                  "rate; the tick deadline is 1/rate)",
                                                           "range": (0.1, 1000.0)})
    trigger: str = field(default="image", metadata={
        "doc": "what starts a control step: image = each camera frame as it arrives (frames beyond control_rate_hz "
               "are dropped, so a faster camera still gives control_rate_hz steps); timer = a timer at "
               "control_rate_hz acting on the newest inputs (up to one period older)",
        "constraints": "one of image, timer"})
    joint_names: tuple[str, ...] = field(default=JOINT_NAMES, metadata={
        "doc": "joint order of proprioception and of the effort command", "constraints": "8 distinct names"})
    robot: str = field(default=DEFAULT_ROBOT, metadata={"doc": "registry arm this graph drives (robot:= launch "
                                                          "argument); a model trained for another arm (gato.json "
                                                          "robot.name) fails configure"})
    execution_provider: str = field(default="auto", metadata={"doc": "ONNX Runtime provider: auto (CUDA if present), "
                                                                     "cpu or cuda",
                                                              "constraints": "one of auto, cpu, cuda"})
    max_context_tokens: int = field(default=1024, metadata={"doc": "tokens kept in the KV cache window; capped "
                                                                   "by the model's training window (gato.json "
                                                                   "model.context_window)",
                                                           "range": (64, 1 << 20)})
    intra_op_threads: int = field(default=0, metadata={"doc": "ONNX Runtime intra-op threads; 0 = one per core "
                                                              "(faster for 79m and up; the tiny default model was "
                                                              "faster on 1 next to the sim)",
                                                       "range": (0, 1024)})
    instruction: str = field(default="", metadata={"doc": "instruction text given to the policy; empty: none (the "
                                                          "policy's default)"})
    image_timeout_s: float = field(default=0.5, metadata={"doc": "newest image older than this: publish nothing",
                                                          "range": (0.001, 3600.0)})
    state_timeout_s: float = field(default=0.25, metadata={"doc": "newest joint state older than this: publish nothing",
                                                           "range": (0.001, 3600.0)})
    object_frame: str = field(default="body", metadata={
        "doc": "which frame of each object /sim/object_poses carries (object_frame:= launch argument, as the sim's); "
               "a model with object state trained on the other frame fails configure",
        "constraints": "one of body, grasp"})
    objects_timeout_s: float = field(default=0.25, metadata={"doc": "newest /sim/object_poses older than this (models "
                                                                    "with object_state): publish nothing",
                                                             "range": (0.001, 3600.0)})
    diagnostics_period_s: float = field(default=1.0, metadata={"doc": "/diagnostics period",
                                                               "range": (0.01, 3600.0)})

    def __post_init__(self) -> None:
        object.__setattr__(self, "joint_names", tuple(self.joint_names))
        if not self.control_rate_hz > 0:
            raise AgentConfigError(f"control_rate_hz must be > 0, got {self.control_rate_hz}")
        if len(self.joint_names) != 8 or len(set(self.joint_names)) != 8:
            raise AgentConfigError(f"joint_names must be 8 distinct names (7 arm + gripper), got {self.joint_names}")
        if self.object_frame not in OBJECT_FRAMES:
            raise AgentConfigError(f"object_frame must be one of {OBJECT_FRAMES}, got {self.object_frame!r}")
        if self.trigger not in TRIGGERS:
            raise AgentConfigError(f"trigger must be one of {TRIGGERS}, got {self.trigger!r}")
        if self.execution_provider not in PROVIDERS:
            raise AgentConfigError(f"execution_provider must be one of {PROVIDERS}, got {self.execution_provider!r}")
        if self.intra_op_threads < 0:
            raise AgentConfigError(f"intra_op_threads must be >= 0, got {self.intra_op_threads}")
        if self.max_context_tokens < 64:
            raise AgentConfigError(f"max_context_tokens must be >= 64, got {self.max_context_tokens}")
        for name in ("image_timeout_s", "state_timeout_s", "objects_timeout_s", "diagnostics_period_s"):
            if not getattr(self, name) > 0:
                raise AgentConfigError(f"{name} must be > 0, got {getattr(self, name)}")

    @property
    def period_s(self) -> float:
        """Control period: the tick deadline."""
        return 1.0 / self.control_rate_hz
