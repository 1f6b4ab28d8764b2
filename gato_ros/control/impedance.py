"""Cartesian impedance (operational-space) control of the gripper pinch point on the URDF model (pure numpy).

Output torques are saturated to the effort limits. The arm is assumed to compensate its own gravity
(Sawyer/Franka torque mode, MuJoCo gravcomp), so gravity torques are added only when asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from gato_ros.control.pose import Pose, PoseError, matrix_to_rotvec, rotvec_to_matrix

# Sawyer posture with the gripper pointing down over the basket (rad); the null-space spring pulls towards it.
DEFAULT_POSTURE: tuple[float, ...] = (0.0, -0.7, 0.0, 1.6, 0.0, 0.67, -1.5708)


class ControlError(ValueError):
    """Bad input to a controller: wrong shape, non-finite values or inconsistent gains."""


class ArmModel(Protocol):
    """What the controller needs of `gato_ros.robot.RobotModel`."""

    arm_joint_names: Any
    effort_limits: Any

    def fk(self, q7: np.ndarray) -> np.ndarray: ...

    def jacobian(self, q7: np.ndarray) -> np.ndarray: ...

    def gravity_torques(self, q7: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class ImpedanceGains:
    """Gains of the controller: error -> commanded pinch-point twist (1/s), speed caps, joint metric, null space."""

    position_gain: float = 10.0  # 1/s: commanded linear velocity per metre of position error
    orientation_gain: float = 10.0  # 1/s: commanded angular velocity per radian of orientation error
    max_linear_speed: float = 0.3  # m/s: the spring saturates here, bounding the wrench for far targets
    max_angular_speed: float = 1.5  # rad/s
    # Joint metric (Nm s/rad): the arm's viscous joint damping (Sawyer MJCF: 30 on j0-j3, 10 on j4-j6).
    # At 20 Hz torque updates the joints are damping-dominated, so joint velocity ~ torque / damping.
    joint_damping: tuple[float, ...] = (30.0, 30.0, 30.0, 30.0, 10.0, 10.0, 10.0)
    velocity_feedback: float = 1.0  # extra damping on (commanded - measured) joint velocity, x joint_damping
    nullspace_gain: float = 2.0  # 1/s: posture spring in the task's null space
    singular_damping: float = 1e-4  # relative damping of the task inverse near singularities
    torque_scale: float = 1.0  # fraction of the URDF effort limits the output may use
    gravity_compensation: bool = False  # add URDF gravity torques (arms without their own compensation)

    def __post_init__(self) -> None:
        for name, value in self.__dict__.items():
            if isinstance(value, bool):
                continue
            values = value if isinstance(value, tuple) else (value,)
            if not all(np.isfinite(v) and v >= 0 for v in values):
                raise ControlError(f"ImpedanceGains.{name} must be finite and >= 0, got {value}")
        if len(self.joint_damping) != 7 or min(self.joint_damping) <= 0:
            raise ControlError(f"ImpedanceGains.joint_damping needs 7 positive values, got {self.joint_damping}")
        if not 0 < self.torque_scale <= 1:
            raise ControlError(f"ImpedanceGains.torque_scale must be in (0, 1], got {self.torque_scale}")


def _array(x: object, n: int, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.shape != (n,) or not np.all(np.isfinite(arr)):
        raise ControlError(f"{name} must be {n} finite numbers, got shape {arr.shape}")
    return arr


def _clamp_norm(v: np.ndarray, limit: float) -> np.ndarray:
    norm = float(np.linalg.norm(v))
    return v if norm <= limit or norm == 0.0 else v * (limit / norm)


class CartesianImpedanceController:
    """Joint torques that pull the pinch point to a target pose (and twist), with a null-space posture spring.

    Operational-space control in the metric W of the joint damping: Lambda = (J W^-1 J^T)^-1 and
    tau = J^T Lambda v_cmd, v_cmd = v* + K e (capped), so the pinch point moves at ~v_cmd, decoupled in all
    six directions (the effective Cartesian stiffness is Lambda K). The null-space spring uses the matching
    projector N = I - J^T Lambda J W^-1, so it does not disturb the task.
    """

    def __init__(self, robot: ArmModel, gains: ImpedanceGains | None = None,
                 posture: np.ndarray | tuple[float, ...] | None = None) -> None:
        self.robot = robot
        self.gains = gains or ImpedanceGains()
        self.posture = _array(DEFAULT_POSTURE if posture is None else posture, 7, "posture")
        limits = np.asarray(robot.effort_limits, dtype=np.float64)
        if limits.ndim != 1 or limits.shape[0] < 7:
            raise ControlError(f"robot.effort_limits needs at least the 7 arm joints, got {limits.shape}")
        self.effort_limits = limits[:7] * self.gains.torque_scale
        self._w = np.asarray(self.gains.joint_damping, dtype=np.float64)

    def set_posture(self, q: np.ndarray) -> None:
        """Joint configuration (7) the null-space spring pulls towards, e.g. the arm's start of episode."""
        self.posture = _array(q, 7, "posture")

    def pose(self, q: np.ndarray) -> Pose:
        """Pinch-point pose at arm configuration q (7)."""
        return Pose.from_matrix(self.robot.fk(_array(q, 7, "q")))

    def commanded_twist(self, current: Pose, target: Pose, target_twist: np.ndarray | None = None) -> np.ndarray:
        """The pinch-point twist (v, w) the controller asks for: feed-forward plus capped proportional error."""
        g = self.gains
        err = current.error_to(target)
        ff = np.zeros(6) if target_twist is None else _array(target_twist, 6, "target_twist")
        v = _clamp_norm(ff[:3] + g.position_gain * err[:3], g.max_linear_speed)
        w = _clamp_norm(ff[3:] + g.orientation_gain * err[3:], g.max_angular_speed)
        return np.concatenate([v, w])

    def torques(self, q: np.ndarray, qd: np.ndarray, target: Pose,
                target_twist: np.ndarray | None = None, current: Pose | None = None) -> np.ndarray:
        """Arm torques (7, Nm) towards `target`; `target_twist` (v, w in the base frame) is feed-forward velocity;
        `current` is the pinch pose at q when the caller already has it (saves a forward kinematics pass)."""
        q = _array(q, 7, "q")
        qd = _array(qd, 7, "qd")
        if not isinstance(target, Pose):
            raise ControlError(f"target must be a gato_ros.control.Pose, got {type(target).__name__}")
        g = self.gains
        jac = np.asarray(self.robot.jacobian(q), dtype=np.float64)
        if jac.shape != (6, 7):
            raise ControlError(f"robot.jacobian must be 6x7, got {jac.shape}")
        twist_cmd = self.commanded_twist(current or Pose.from_matrix(self.robot.fk(q)), target, target_twist)
        w_inv = 1.0 / self._w
        a = (jac * w_inv) @ jac.T  # J W^-1 J^T, symmetric PSD
        s, v = np.linalg.eigh(a)
        lam2 = (g.singular_damping * max(float(s[-1]), 1e-12)) ** 2
        s = np.clip(s, 0.0, None)
        lam = (v * (s / (s * s + lam2))) @ v.T  # damped inverse of J W^-1 J^T
        tau_task = jac.T @ (lam @ twist_cmd)
        qd_cmd = w_inv * tau_task  # joint velocity the task torque drives at steady state
        null = np.eye(7) - jac.T @ lam @ (jac * w_inv)
        tau_null = null @ (self._w * g.nullspace_gain * (self.posture - q))
        qd_cmd = qd_cmd + w_inv * tau_null
        tau = tau_task + tau_null + g.velocity_feedback * self._w * (qd_cmd - qd)
        if g.gravity_compensation:
            tau = tau + np.asarray(self.robot.gravity_torques(q), dtype=np.float64)
        return np.clip(tau, -self.effort_limits, self.effort_limits)

    def lead_torques(self, q: np.ndarray, qd: np.ndarray, lead: np.ndarray) -> np.ndarray:
        """Arm torques (7, Nm) towards the pinch pose moved by `lead` (6): a displacement (m, base frame) and a
        rotation vector (rad) applied to the current pose. The Cartesian action a policy outputs (scripted expert,
        `robot.action_space: cartesian` models), turned into torques the same way for both."""
        lead = _array(lead, 6, "lead")
        pose = self.pose(q)
        target = Pose(pose.position + lead[:3], rotvec_to_matrix(lead[3:]) @ pose.rotation)
        return self.torques(q, qd, target, current=pose)


def twist_to_target(target: Pose, twist: np.ndarray, dt: float, current: Pose | None = None,
                    max_lead: float = 0.1, max_lead_angle: float = 0.5) -> Pose:
    """Move `target` by a base-frame twist (v m/s, w rad/s) for dt s; keep it within a leash of `current`.

    The leash stops a commanded target from running away while the arm is blocked (teleop into a wall).
    """
    try:
        v = np.asarray(twist, dtype=np.float64)
        if v.shape != (6,) or not np.all(np.isfinite(v)):
            raise PoseError(f"twist must be 6 finite numbers, got shape {v.shape}")
    except PoseError as exc:
        raise ControlError(str(exc)) from exc
    if not (np.isfinite(dt) and dt >= 0):
        raise ControlError(f"dt must be a finite number >= 0, got {dt}")
    position = target.position + v[:3] * dt
    rotation = rotvec_to_matrix(v[3:] * dt) @ target.rotation
    if current is not None:
        position = current.position + _clamp_norm(position - current.position, max_lead)
        rel = matrix_to_rotvec(rotation @ current.rotation.T)
        rotation = rotvec_to_matrix(_clamp_norm(rel, max_lead_angle)) @ current.rotation
    # re-orthonormalize so repeated integration does not drift off SO(3)
    u, _, vt = np.linalg.svd(rotation)
    return Pose(position, u @ vt)
