"""Hold torques: what the safety layer commands when it must not trust the requested efforts."""

from __future__ import annotations

import numpy as np


def damping_torques(qd: np.ndarray, gains: np.ndarray, limit: np.ndarray | None = None) -> np.ndarray:
    """Joint damping -kd * qd, bounded by +-`limit` when given: brings a moving arm to rest on top of its
    gravity compensation, and never more than `limit` however fast a (possibly wrong) velocity reads."""
    out = -np.asarray(gains, dtype=np.float64) * np.asarray(qd, dtype=np.float64)
    if limit is not None:
        lim = np.asarray(limit, dtype=np.float64)
        out = np.clip(out, -lim, lim)
    return out


def hold_torques(
    qd: np.ndarray | None,
    gains: np.ndarray,
    arm: np.ndarray,
    gripper_command: float,
    gravity: np.ndarray | None = None,
    limit: np.ndarray | None = None,
) -> np.ndarray:
    """Full effort vector for HOLD: damping (+ gravity) on arm joints, the last grip command on the gripper.

    `arm` is a boolean mask over the joints; `gravity` (arm joints only, or None) is added on top; `limit`
    (all joints, or None) bounds the damping part.
    Without a joint state (`qd` None) arm torques are zero: the arm's own gravity compensation holds it.
    """
    arm = np.asarray(arm, dtype=bool)
    out = np.zeros(arm.shape[0], dtype=np.float64)
    if qd is not None:
        out[arm] = damping_torques(np.asarray(qd)[arm], np.asarray(gains)[arm],
                                   None if limit is None else np.asarray(limit)[arm])
    if gravity is not None:
        out[arm] += gravity
    out[~arm] = gripper_command
    return out
