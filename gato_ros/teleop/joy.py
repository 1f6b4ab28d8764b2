"""Gamepads and SpaceMice as teleop devices: a sensor_msgs/Joy (axes, buttons) -> base-frame twist and gripper
command, by a mapping read from YAML (config/teleop_devices.yaml: one section per device).

`JoyMapping` is one device's mapping (validated), `JoyMapper` applies it to successive Joy messages (button edges
for the gripper, deadman button, dead zone). No ROS here: the node is gato_ros.nodes.joy_teleop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

#: Twist components in the order of /teleop/twist's vector (linear x y z, angular x y z; robot base frame).
TWIST_AXES = ("vx", "vy", "vz", "wx", "wy", "wz")
BUTTON_KEYS = ("enable_button", "close_button", "open_button", "toggle_button")


class JoyMappingError(ValueError):
    """A device mapping that is malformed, or a Joy message that does not fit it."""


@dataclass(frozen=True)
class JoyMapping:
    """One device: twist component -> (axis index, scale at full deflection in m/s or rad/s), dead zone, buttons
    (index, or -1 for none): hold `enable_button` to move (a deadman), gripper close / open / toggle."""

    axes: dict[str, tuple[int, float]] = field(default_factory=dict)
    deadzone: float = 0.1
    topic: str = ""  # the device's Joy topic; empty: gato_ros.interfaces.JOY_TOPIC (the ROS joy node's)
    enable_button: int = -1
    close_button: int = -1
    open_button: int = -1
    toggle_button: int = -1

    @classmethod
    def from_dict(cls, name: str, data: Mapping[str, Any]) -> "JoyMapping":
        if not isinstance(data, Mapping):
            raise JoyMappingError(f"device {name!r}: expected a mapping, got {type(data).__name__}")
        unknown = sorted(set(data) - {"axes", "deadzone", "topic", *BUTTON_KEYS})
        if unknown:
            raise JoyMappingError(f"device {name!r}: unknown keys {unknown}")
        axes: dict[str, tuple[int, float]] = {}
        for key, value in (data.get("axes") or {}).items():
            if key not in TWIST_AXES:
                raise JoyMappingError(f"device {name!r}: axes key {key!r} is not one of {TWIST_AXES}")
            if not (isinstance(value, Sequence) and len(value) == 2):
                raise JoyMappingError(f"device {name!r}: axes.{key} must be [axis index, scale], got {value!r}")
            index, scale = int(value[0]), float(value[1])
            if index < 0 or not np.isfinite(scale):
                raise JoyMappingError(f"device {name!r}: axes.{key} needs an index >= 0 and a finite scale")
            axes[key] = (index, scale)
        deadzone = float(data.get("deadzone", 0.1))
        if not 0.0 <= deadzone < 1.0:
            raise JoyMappingError(f"device {name!r}: deadzone must be in [0, 1), got {deadzone}")
        buttons = {k: int(data.get(k, -1)) for k in BUTTON_KEYS}
        topic = str(data.get("topic", ""))
        if topic and not topic.startswith("/"):
            raise JoyMappingError(f"device {name!r}: topic must be absolute (/...), got {topic!r}")
        return cls(axes=axes, deadzone=deadzone, topic=topic, **buttons)


def load_mappings(path: str | Path) -> dict[str, JoyMapping]:
    """Every device mapping in a YAML file ({device name: mapping})."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise JoyMappingError(f"cannot read device mappings {path}: {exc}") from exc
    if not isinstance(data, Mapping):
        raise JoyMappingError(f"{path}: expected {{device: mapping}}")
    return {str(name): JoyMapping.from_dict(str(name), value) for name, value in data.items()}


def _deadzone(value: float, zone: float) -> float:
    """0 inside the dead zone, then rescaled so full deflection stays 1 (no jump at the zone's edge)."""
    magnitude = abs(value)
    if magnitude <= zone:
        return 0.0
    return float(np.sign(value) * min(1.0, (magnitude - zone) / (1.0 - zone)))


class JoyMapper:
    """Applies a JoyMapping to successive Joy messages; `gripper` (0 open .. 1 closed) changes on button presses."""

    def __init__(self, mapping: JoyMapping, gripper: float = 0.0) -> None:
        self.mapping = mapping
        self.gripper = gripper
        self._pressed: tuple[int, ...] = ()

    def _button(self, buttons: Sequence[int], index: int) -> bool:
        if index < 0:
            return False
        if index >= len(buttons):
            raise JoyMappingError(f"the device reports {len(buttons)} buttons; the mapping uses button {index}")
        return bool(buttons[index])

    def update(self, axes: Sequence[float], buttons: Sequence[int]) -> np.ndarray:
        """The twist (vx, vy, vz, wx, wy, wz) for this message; zero while the enable button is not held."""
        m = self.mapping
        for key, (index, _) in m.axes.items():
            if index >= len(axes):
                raise JoyMappingError(f"the device reports {len(axes)} axes; the mapping uses axis {index} ({key})")
        values = np.asarray(axes, dtype=np.float64)
        if not np.all(np.isfinite(values)):
            raise JoyMappingError("non-finite axis value")
        pressed = tuple(i for i, b in enumerate(buttons) if b)
        edges = set(pressed) - set(self._pressed)
        self._pressed = pressed
        for index, value in ((m.close_button, 1.0), (m.open_button, 0.0)):
            if self._button(buttons, index) and index in edges:
                self.gripper = value
        if self._button(buttons, m.toggle_button) and m.toggle_button in edges:
            self.gripper = 0.0 if self.gripper >= 0.5 else 1.0
        twist = np.zeros(len(TWIST_AXES))
        if m.enable_button >= 0 and not self._button(buttons, m.enable_button):
            return twist
        for key, (index, scale) in m.axes.items():
            twist[TWIST_AXES.index(key)] = scale * _deadzone(float(values[index]), m.deadzone)
        return twist
