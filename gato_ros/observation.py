"""Observation assembly from ROS-shaped joint data: the one place proprioception is built."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

PROPRIO_SIZE = 15  # arm positions (7), arm velocities (7), gripper position (1)


class JointNameError(ValueError):
    """A joint state that lacks a required joint (or is otherwise inconsistent with joint_names)."""


def reorder_joint_state(msg_names: Sequence[str], values: Sequence[float], joint_names: Sequence[str]) -> list[float]:
    """`values` (in message order) rearranged into `joint_names` order; extra joints are ignored."""
    if len(values) != len(msg_names):
        raise JointNameError(f"joint state has {len(msg_names)} names but {len(values)} values")
    index = {name: i for i, name in enumerate(msg_names)}
    missing = [name for name in joint_names if name not in index]
    if missing:
        raise JointNameError(f"joint state lacks joints {missing} (it has {list(msg_names)})")
    return [float(values[index[name]]) for name in joint_names]


def proprio_from_joints(positions: Sequence[float], velocities: Sequence[float]) -> np.ndarray:
    """[q_arm(7), qd_arm(7), gripper position(1)] from 8-joint positions and velocities in joint_names order."""
    q = np.asarray(positions, dtype=np.float64).reshape(-1)
    qd = np.asarray(velocities, dtype=np.float64).reshape(-1)
    if q.shape != (8,) or qd.shape != (8,):
        raise ValueError(f"expected 8 joint positions and velocities, got {q.shape} and {qd.shape}")
    return np.concatenate([q[:7], qd[:7], q[7:8]])
