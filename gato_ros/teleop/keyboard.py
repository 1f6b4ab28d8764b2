"""Built-in terminal keyboard teleop for the pip-only install: keys -> base-frame twist and gripper command.

A terminal reports key presses (and auto-repeats while a key is held) but no releases, so each press keeps its
velocity for `hold_s` (longer than the terminal's repeat delay); holding a key moves smoothly, letting go stops.
`KeyTwistState` is the pure mapping (testable without a tty); `TerminalKeys` reads keys from a tty.
"""

from __future__ import annotations

import os
import select
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

# key -> (twist index, sign); twist = (vx, vy, vz, wx, wy, wz) in the robot base frame
MOTION_KEYS: dict[str, tuple[int, float]] = {
    "w": (0, 1.0), "s": (0, -1.0), "up": (0, 1.0), "down": (0, -1.0),
    "a": (1, 1.0), "d": (1, -1.0), "left": (1, 1.0), "right": (1, -1.0),
    "r": (2, 1.0), "f": (2, -1.0),
    "q": (5, 1.0), "e": (5, -1.0),
    "i": (4, 1.0), "k": (4, -1.0), "j": (3, 1.0), "l": (3, -1.0),
}
GRIPPER_KEYS = {" ": "toggle", "c": "close", "o": "open"}
SPEED_KEYS = {"+": 1.25, "=": 1.25, "-": 0.8}

HELP = """\
keyboard teleop (robot base frame):
  w/s or up/down  forward/back (x)     a/d or left/right  left/right (y)     r/f  up/down (z)
  q/e  yaw left/right    i/k  pitch    j/l  roll
  space  toggle gripper   c  close   o  open        +/-  faster/slower
"""


class KeyboardError(RuntimeError):
    """No usable terminal for keyboard teleop (stdin is not a tty)."""


@dataclass(frozen=True)
class KeyboardConfig:
    """Speeds of the keyboard teleop."""

    linear_speed: float = 0.08  # m/s per held key
    angular_speed: float = 0.5  # rad/s per held key
    hold_s: float = 0.6  # a press moves for this long (auto-repeat extends it)
    min_scale: float = 0.2
    max_scale: float = 3.0


class KeyTwistState:
    """Pure key handling: `press(key, t)` -> what the key did; `twist(t)` and `gripper` are what to publish."""

    def __init__(self, config: KeyboardConfig | None = None, gripper: float = 0.0) -> None:
        self.config = config or KeyboardConfig()
        self.gripper = gripper
        self.scale = 1.0
        self._until = np.full(6, -np.inf)  # per axis: moving until this time
        self._sign = np.zeros(6)

    def press(self, key: str, t: float) -> str | None:
        """Apply one key press at time t; returns 'motion', 'gripper', 'speed', or None for an unknown key."""
        key = key if len(key) > 1 else key.lower() if key != " " else key
        if key in MOTION_KEYS:
            axis, sign = MOTION_KEYS[key]
            self._sign[axis] = sign
            self._until[axis] = t + self.config.hold_s
            return "motion"
        if key in GRIPPER_KEYS:
            action = GRIPPER_KEYS[key]
            self.gripper = {"toggle": 1.0 - round(self.gripper), "close": 1.0, "open": 0.0}[action]
            return "gripper"
        if key in SPEED_KEYS:
            self.scale = float(np.clip(self.scale * SPEED_KEYS[key], self.config.min_scale, self.config.max_scale))
            return "speed"
        return None

    def stop(self) -> None:
        """Stop all motion now (e.g. before an episode starts)."""
        self._until[:] = -np.inf

    def twist(self, t: float) -> np.ndarray:
        """The twist (vx, vy, vz, wx, wy, wz) to publish at time t."""
        active = self._until >= t
        speeds = np.r_[np.full(3, self.config.linear_speed), np.full(3, self.config.angular_speed)] * self.scale
        return np.where(active, self._sign * speeds, 0.0)


ESCAPES = {"\x1b[A": "up", "\x1b[B": "down", "\x1b[C": "right", "\x1b[D": "left"}


def split_keys(data: str) -> list[str]:
    """Split raw terminal input into keys (arrow escape sequences become 'up', 'down', 'left', 'right')."""
    keys: list[str] = []
    i = 0
    while i < len(data):
        seq = data[i:i + 3]
        if seq in ESCAPES:
            keys.append(ESCAPES[seq])
            i += 3
            continue
        keys.append("esc" if data[i] == "\x1b" else "enter" if data[i] in "\r\n" else data[i])
        i += 1
    return keys


class TerminalKeys:
    """Context manager: the terminal in cbreak mode (no echo, no line buffering); `read(timeout)` -> keys."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stdin
        self._saved: Any = None

    def __enter__(self) -> "TerminalKeys":
        import termios
        import tty

        if not self.stream.isatty():
            raise KeyboardError("keyboard teleop needs an interactive terminal (stdin is not a tty)")
        self.fd = self.stream.fileno()
        self._saved = termios.tcgetattr(self.fd)
        tty.setcbreak(self.fd)
        return self

    def __exit__(self, *exc: Any) -> None:
        import termios

        if self._saved is not None:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)

    def read(self, timeout: float) -> list[str]:
        """Keys pressed within `timeout` seconds (possibly none)."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return []
        return split_keys(os.read(self.fd, 64).decode(errors="ignore"))
