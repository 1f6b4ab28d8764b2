"""Rigid poses and rotation helpers (pure numpy) shared by the impedance controller, teleop and the expert."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class PoseError(ValueError):
    """A pose, rotation or twist has the wrong shape or is not finite."""


def _vec(x: object, n: int, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.shape != (n,) or not np.all(np.isfinite(arr)):
        raise PoseError(f"{name} must be {n} finite numbers, got shape {arr.shape}: {arr}")
    return arr


def skew(v: np.ndarray) -> np.ndarray:
    """The 3x3 cross-product matrix of v."""
    return np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])


def rotvec_to_matrix(w: np.ndarray) -> np.ndarray:
    """Rodrigues: rotation by |w| about w/|w|."""
    w = _vec(w, 3, "rotation vector")
    angle = float(np.linalg.norm(w))
    if angle < 1e-12:
        return np.eye(3) + skew(w)
    k = skew(w / angle)
    return np.eye(3) + np.sin(angle) * k + (1.0 - np.cos(angle)) * (k @ k)


def matrix_to_rotvec(r: np.ndarray) -> np.ndarray:
    """Inverse of `rotvec_to_matrix` (angle in [0, pi]); robust near 0 and pi."""
    r = np.asarray(r, dtype=np.float64)
    cos = np.clip((np.trace(r) - 1.0) / 2.0, -1.0, 1.0)
    angle = float(np.arccos(cos))
    vee = np.array([r[2, 1] - r[1, 2], r[0, 2] - r[2, 0], r[1, 0] - r[0, 1]])
    if angle < 1e-6:
        return 0.5 * vee
    if np.pi - angle > 1e-4:
        return angle / (2.0 * np.sin(angle)) * vee
    # near pi: axis from the symmetric part, sign from the (small) antisymmetric part
    b = (r + np.eye(3)) / 2.0
    axis = np.sqrt(np.clip(np.diag(b), 0.0, None))
    i = int(np.argmax(axis))
    axis = b[:, i] / axis[i]
    axis /= np.linalg.norm(axis)
    if np.dot(axis, vee) < 0:
        axis = -axis
    return angle * axis


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """Unit quaternion (w, x, y, z; MuJoCo order) to a rotation matrix."""
    w, x, y, z = _vec(q, 4, "quaternion") / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


def yaw_matrix(yaw: float) -> np.ndarray:
    """Rotation about +z by yaw (rad)."""
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


@dataclass(frozen=True)
class Pose:
    """A frame in the robot base frame: position (m) and rotation matrix."""

    position: np.ndarray
    rotation: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "position", _vec(self.position, 3, "Pose.position"))
        rot = np.asarray(self.rotation, dtype=np.float64)
        if rot.shape != (3, 3) or not np.all(np.isfinite(rot)):
            raise PoseError(f"Pose.rotation must be a finite 3x3 matrix, got shape {rot.shape}")
        if not np.allclose(rot @ rot.T, np.eye(3), atol=1e-5):
            raise PoseError("Pose.rotation is not orthonormal")
        object.__setattr__(self, "rotation", rot)

    @classmethod
    def from_matrix(cls, t: np.ndarray) -> Pose:
        """From a 4x4 homogeneous transform (what `RobotModel.fk` returns)."""
        t = np.asarray(t, dtype=np.float64)
        if t.shape != (4, 4):
            raise PoseError(f"a homogeneous transform must be 4x4, got {t.shape}")
        return cls(t[:3, 3].copy(), t[:3, :3].copy())

    def matrix(self) -> np.ndarray:
        """As a 4x4 homogeneous transform."""
        t = np.eye(4)
        t[:3, :3] = self.rotation
        t[:3, 3] = self.position
        return t

    def error_to(self, target: Pose) -> np.ndarray:
        """6-vector (dp, rotvec) that moves this pose onto `target`, both in the base frame."""
        return np.concatenate([target.position - self.position,
                               matrix_to_rotvec(target.rotation @ self.rotation.T)])
