"""Teleop control law (pure numpy): a base-frame twist moves a pinch-point target that the Cartesian impedance
controller tracks; with no fresh twist the target stays put, so the arm holds its pose.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gato_ros.control import CartesianImpedanceController, ImpedanceGains, Pose, twist_to_target
from gato_ros.teleop.config import TeleopConfig, TeleopError


def gripper_effort(g: float) -> float:
    """/teleop/gripper g in [0, 1] (0 open, 1 closed) -> normalized gripper effort 2g - 1 in [-1, 1]."""
    if not math.isfinite(g):
        raise TeleopError(f"gripper command must be finite, got {g}")
    return 2.0 * min(max(float(g), 0.0), 1.0) - 1.0


def clamp_twist(twist: Any, max_linear: float, max_angular: float) -> np.ndarray:
    """A 6-vector (v, w) with |v| and |w| scaled down to the caps; TeleopError for bad input."""
    v = np.asarray(twist, dtype=np.float64)
    if v.shape != (6,) or not np.all(np.isfinite(v)):
        raise TeleopError(f"twist must be 6 finite numbers (vx vy vz wx wy wz), got {v!r}")
    out = v.copy()
    for sl, cap in ((slice(0, 3), max_linear), (slice(3, 6), max_angular)):
        n = float(np.linalg.norm(out[sl]))
        if n > cap:
            out[sl] *= cap / n
    return out


class TwistWatchdog:
    """The newest twist while it is fresh (age <= timeout), else None: a silent twist source means 'hold'."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._twist: np.ndarray | None = None
        self._t = -math.inf

    def update(self, twist: np.ndarray, t: float) -> None:
        self._twist, self._t = np.asarray(twist, dtype=np.float64), t

    def get(self, t: float) -> np.ndarray | None:
        return self._twist if self._twist is not None and t - self._t <= self.timeout_s else None


class TeleopController:
    """`step(q, qd, twist or None, gripper, dt) -> efforts[8]`: twist-driven target, impedance tracking."""

    def __init__(self, robot: Any, config: TeleopConfig | None = None, gains: ImpedanceGains | None = None) -> None:
        self.config = config or TeleopConfig()
        self.controller = CartesianImpedanceController(robot, gains or ImpedanceGains())
        self.target: Pose | None = None
        self.reanchors = 0

    def reset(self, q: np.ndarray) -> None:
        """Hold the arm where it is (target = current pinch pose, posture = current joints)."""
        q7 = np.asarray(q, dtype=np.float64)[:7]
        self.target = self.controller.pose(q7)
        self.controller.set_posture(q7)

    def step(self, q: Any, qd: Any, twist: Any | None, gripper: float, dt: float) -> np.ndarray:
        """Efforts (7 arm torques in Nm, normalized gripper) for one control period of dt seconds."""
        q = np.asarray(q, dtype=np.float64)
        qd = np.asarray(qd, dtype=np.float64)
        if q.shape != (8,) or qd.shape != (8,) or not (np.all(np.isfinite(q)) and np.all(np.isfinite(qd))):
            raise TeleopError(f"q and qd must be 8 finite numbers in joint_names order, got {q.shape}, {qd.shape}")
        if not (math.isfinite(dt) and dt >= 0):
            raise TeleopError(f"dt must be finite and >= 0, got {dt}")
        current = self.controller.pose(q[:7])
        if self.target is None or np.linalg.norm(current.position - self.target.position) > \
                self.config.reanchor_distance_m:
            self.reanchors += self.target is not None
            self.reset(q)
        feedforward = None
        if twist is not None:
            feedforward = clamp_twist(twist, self.config.max_linear_speed, self.config.max_angular_speed)
            self.target = twist_to_target(self.target, feedforward, dt, current, max_lead=self.config.max_lead_m)
        tau = self.controller.torques(q[:7], qd[:7], self.target, feedforward)
        return np.concatenate([tau, [gripper_effort(gripper)]])
