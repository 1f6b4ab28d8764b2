"""One demonstration or rollout, as arrays: the unit that bags, the tokenizer and training share."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gato_ros.interfaces import (
    CARTESIAN_COMMAND_SIZE, JOINT_NAMES, OBJECT_EXTENTS_SIZE, OBJECT_FRAMES, OBJECT_STATE_SIZE,
)


@dataclass
class Episode:
    """T control steps of one episode; row t holds the observation at step t and the action taken."""

    images: np.ndarray  # [T, H, W, 3] uint8 RGB
    joint_positions: np.ndarray  # [T, J] in joint_names order
    joint_velocities: np.ndarray  # [T, J]
    actions: np.ndarray  # [T, A] raw efforts (Nm; gripper normalized to [-1, 1])
    joint_names: list[str] = field(default_factory=lambda: list(JOINT_NAMES))
    instruction: str = ""
    success: bool | None = None
    task: str = "rgb_stacking"
    source: str = "sim_expert"
    control_rate_hz: float = 20.0
    camera: str = "basket_front_left"
    object_state: np.ndarray | None = None  # [T, 21] gato_ros.observation.object_state_from_poses rows, if recorded
    cartesian_commands: np.ndarray | None = None  # [T, 7] the Cartesian command behind each action, if recorded
    object_frame: str = "body"  # which frame of each object object_state holds (interfaces.OBJECT_FRAMES)
    object_extents: np.ndarray | None = None  # [T, 9] interfaces.OBJECT_EXTENTS_SIZE rows, if recorded

    def __post_init__(self) -> None:
        t = len(self.actions)
        for name in ("images", "joint_positions", "joint_velocities"):
            if len(getattr(self, name)) != t:
                raise ValueError(f"Episode.{name} has {len(getattr(self, name))} steps, actions have {t}")
        if self.object_state is not None and np.shape(self.object_state) != (t, OBJECT_STATE_SIZE):
            raise ValueError(f"Episode.object_state must be [{t}, {OBJECT_STATE_SIZE}], "
                             f"got {np.shape(self.object_state)}")
        if self.object_extents is not None and np.shape(self.object_extents) != (t, OBJECT_EXTENTS_SIZE):
            raise ValueError(f"Episode.object_extents must be [{t}, {OBJECT_EXTENTS_SIZE}], "
                             f"got {np.shape(self.object_extents)}")
        if self.cartesian_commands is not None and np.shape(self.cartesian_commands) != (t, CARTESIAN_COMMAND_SIZE):
            raise ValueError(f"Episode.cartesian_commands must be [{t}, {CARTESIAN_COMMAND_SIZE}], "
                             f"got {np.shape(self.cartesian_commands)}")
        if self.object_frame not in OBJECT_FRAMES:
            raise ValueError(f"Episode.object_frame must be one of {OBJECT_FRAMES}, got {self.object_frame!r}")
        if self.images.ndim != 4 or self.images.shape[-1] != 3 or self.images.dtype != np.uint8:
            raise ValueError(f"Episode.images must be [T,H,W,3] uint8, got {self.images.shape} {self.images.dtype}")

    def __len__(self) -> int:
        return len(self.actions)

    def slice(self, start: int, stop: int) -> "Episode":
        """Steps [start, stop) as a new episode with the same metadata."""
        return Episode(
            self.images[start:stop], self.joint_positions[start:stop], self.joint_velocities[start:stop],
            self.actions[start:stop], list(self.joint_names), self.instruction, self.success, self.task,
            self.source, self.control_rate_hz, self.camera,
            None if self.object_state is None else self.object_state[start:stop],
            None if self.cartesian_commands is None else self.cartesian_commands[start:stop], self.object_frame,
            None if self.object_extents is None else self.object_extents[start:stop],
        )
