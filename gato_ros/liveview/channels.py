"""What the live view shows, as plain data: channel names, JSON payloads built from ROS values and /diagnostics,
rate limits and the arm's link poses as transforms. No ROS and no Foxglove here (the bridge logs these, the
terminal status line reads the same diagnostics).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from gato_ros.interfaces import OBJECT_COLORS, TRUE_WORDS
from gato_ros.safety.filter import Mode
from gato_ros.sim.success import STAGES

#: Foxglove-only channels (not ROS topics): derived from /diagnostics and the joint states.
SAFETY_CHANNEL = "/gato/safety"  # safety mode, reason, interventions (safety diagnostics)
AGENT_CHANNEL = "/gato/agent"  # agent step latency, command rate, context fill (agent diagnostics + commands)
EPISODE_CHANNEL = "/gato/episode"  # sim episode, stage, success (sim diagnostics)
TF_CHANNEL = "/tf"  # every URDF link in the robot base frame (FrameTransforms), for the 3D panel
OBJECTS_CHANNEL = "/gato/objects"  # red, green, blue objects as cubes (SceneUpdate), world frame
WORLD_FRAME = "world"

#: Safety modes in order, numbered for plots (stages: gato_ros.sim.success.STAGES, numbered the same way).
SAFETY_MODES = tuple(m.value for m in Mode)


def _float(values: Mapping[str, str], key: str) -> float | None:
    try:
        return float(values[key])
    except (KeyError, ValueError):
        return None


def _int(values: Mapping[str, str], key: str) -> int | None:
    number = _float(values, key)
    return None if number is None or not np.isfinite(number) else int(number)


def joints_payload(names: Sequence[str], position: Sequence[float], velocity: Sequence[float],
                   effort: Sequence[float]) -> dict[str, Any]:
    """A sensor_msgs/JointState as JSON arrays (plot `/joint_states.position[0]`)."""
    return {"name": list(names), "position": [float(x) for x in position],
            "velocity": [float(x) for x in velocity], "effort": [float(x) for x in effort]}


def efforts_payload(efforts: Sequence[float], names: Sequence[str]) -> dict[str, Any]:
    """An effort array (commanded or the safety output) with its joint names."""
    return {"name": list(names), "effort": [float(x) for x in efforts]}


def safety_payload(values: Mapping[str, str], message: str) -> dict[str, Any]:
    """The safety node's status: mode (and its index in SAFETY_MODES), reason, interventions, output rate."""
    mode = values.get("mode", "")
    return {"mode": mode, "mode_index": SAFETY_MODES.index(mode) if mode in SAFETY_MODES else -1,
            "reason": values.get("reason", ""), "interventions": _int(values, "interventions"),
            "publish_rate_hz": _float(values, "publish_rate_hz"), "message": message}


def agent_payload(values: Mapping[str, str], message: str, command_rate_hz: float | None) -> dict[str, Any]:
    """The agent's status: step latency p50/p99 (ms), deadline misses, commands, context fill, command rate."""
    return {"state": message, "p50_ms": _float(values, "tick_p50_ms"), "p99_ms": _float(values, "tick_p99_ms"),
            "deadline_misses": _int(values, "tick_deadline_misses"), "published": _int(values, "published"),
            "skipped": _int(values, "skipped"), "context_fill": _float(values, "context_fill"),
            "command_rate_hz": command_rate_hz, "model": values.get("model", "")}


def episode_payload(values: Mapping[str, str], message: str) -> dict[str, Any]:
    """The sim's episode: index, furthest stage now (and its index in STAGES), success, episode time."""
    stage = values.get("stage", "")
    return {"episode": _int(values, "episode"), "seed": _int(values, "seed"), "stage": stage,
            "stage_index": STAGES.index(stage) if stage in STAGES else -1,
            "success": values.get("success", "").strip().lower() in TRUE_WORDS,
            "episode_time_s": _float(values, "episode_time_s"), "message": message}


def status_node(status_name: str) -> str:
    """The node of a DiagnosticStatus named '<node>: <name>'."""
    return status_name.split(":", 1)[0].strip()


@dataclass
class RateLimiter:
    """Lets through at most `rate_hz` events per second (the first always passes)."""

    rate_hz: float
    _next: float = -np.inf

    def ready(self, t: float) -> bool:
        if t < self._next:
            return False
        self._next = max(self._next + 1.0 / self.rate_hz, t) if np.isfinite(self._next) else t + 1.0 / self.rate_hz
        return True


@dataclass
class RateMeter:
    """Events per second over the last `window_s` seconds (None with fewer than two events in it)."""

    window_s: float = 2.0
    _times: deque = field(default_factory=deque)

    def tick(self, t: float) -> None:
        self._times.append(t)
        while self._times and self._times[0] < t - self.window_s:
            self._times.popleft()

    def rate(self, now: float) -> float | None:
        times = [x for x in self._times if x >= now - self.window_s]
        if len(times) < 2:
            return None
        return (len(times) - 1) / max(times[-1] - times[0], 1e-9)


def quat_xyzw(rotation: np.ndarray) -> tuple[float, float, float, float]:
    """A 3x3 rotation matrix as a unit quaternion (x, y, z, w), w >= 0."""
    m = np.asarray(rotation, dtype=np.float64)
    w = np.sqrt(max(0.0, 1.0 + m[0, 0] + m[1, 1] + m[2, 2])) / 2
    x = np.sqrt(max(0.0, 1.0 + m[0, 0] - m[1, 1] - m[2, 2])) / 2
    y = np.sqrt(max(0.0, 1.0 - m[0, 0] + m[1, 1] - m[2, 2])) / 2
    z = np.sqrt(max(0.0, 1.0 - m[0, 0] - m[1, 1] + m[2, 2])) / 2
    x = np.copysign(x, m[2, 1] - m[1, 2])
    y = np.copysign(y, m[0, 2] - m[2, 0])
    z = np.copysign(z, m[1, 0] - m[0, 1])
    q = np.array([x, y, z, w])
    q /= np.linalg.norm(q)
    return tuple(float(v) for v in q)  # type: ignore[return-value]


@dataclass(frozen=True)
class Transform:
    """A child frame in a parent frame: translation (m) and rotation quaternion (x, y, z, w)."""

    parent: str
    child: str
    translation: tuple[float, float, float]
    rotation: tuple[float, float, float, float]


def link_transforms(link_poses: Mapping[str, np.ndarray], base: str) -> list[Transform]:
    """Every link's 4x4 base-frame pose (RobotModel.link_poses) as a transform from `base` (the base itself left
    out), so the 3D panel draws the arm's frames from the joint states alone."""
    return [Transform(base, link, tuple(float(v) for v in pose[:3, 3]), quat_xyzw(pose[:3, :3]))
            for link, pose in link_poses.items() if link != base]


def object_boxes(object_state: np.ndarray) -> list[tuple[str, tuple[float, ...], tuple[float, ...]]]:
    """(color, position xyz, quaternion xyzw) of each object from an object_state row [21] (quaternions wxyz)."""
    row = np.asarray(object_state, dtype=np.float64).reshape(len(OBJECT_COLORS), 7)
    return [(color, tuple(float(v) for v in r[:3]), (float(r[4]), float(r[5]), float(r[6]), float(r[3])))
            for color, r in zip(OBJECT_COLORS, row)]
