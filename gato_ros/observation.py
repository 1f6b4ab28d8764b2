"""Observation assembly from ROS-shaped joint data: the one place proprioception is built."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from gato_ros.control.pose import quat_to_matrix
from gato_ros.interfaces import OBJECT_COLORS, OBJECT_EXTENTS_SIZE, OBJECT_STATE_SIZE, PROPRIO_SIZE

if TYPE_CHECKING:
    from gato_ros.robot import RobotModel

__all__ = ["JointNameError", "kinematic_features", "object_extents_from_values", "object_state_from_pose_array",
           "object_state_from_poses", "proprio_from_joints", "reorder_joint_state"]


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
    arm = PROPRIO_SIZE // 2
    if q.shape != (arm + 1,) or qd.shape != (arm + 1,):
        raise ValueError(f"expected {arm + 1} joint positions and velocities, got {q.shape} and {qd.shape}")
    return np.concatenate([q[:arm], qd[:arm], q[arm:]])


def object_state_from_poses(poses: dict[str, tuple[Sequence[float], Sequence[float]]]) -> np.ndarray:
    """[21] = red, green, blue: position (3) + unit quaternion wxyz with w >= 0 (q and -q are one rotation).

    `poses` maps colour -> (position, quaternion wxyz), as `StackingEnv.object_poses()` and the sim's
    `/sim/object_poses` report them. A diagnostic observation (a real cell needs a pose estimator for it)."""
    out = []
    for color in OBJECT_COLORS:
        if color not in poses:
            raise ValueError(f"object poses lack {color!r} (have {sorted(poses)})")
        pos = np.asarray(poses[color][0], dtype=np.float64).reshape(-1)
        quat = np.asarray(poses[color][1], dtype=np.float64).reshape(-1)
        if pos.shape != (3,) or quat.shape != (4,) or not (np.all(np.isfinite(pos)) and np.all(np.isfinite(quat))):
            raise ValueError(f"{color} pose must be 3 finite position and 4 finite quaternion values")
        norm = float(np.linalg.norm(quat))
        if norm < 1e-9:
            raise ValueError(f"{color} quaternion has zero norm")
        quat = quat / norm
        out.append(np.concatenate([pos, -quat if quat[0] < 0 else quat]))
    return np.concatenate(out)


def object_state_from_pose_array(msg: Any) -> np.ndarray:
    """[21] from a geometry_msgs/PoseArray (rosbags or rclpy message) with the poses in OBJECT_COLORS order."""
    if len(msg.poses) != len(OBJECT_COLORS):
        raise ValueError(f"object pose array has {len(msg.poses)} poses, expected {len(OBJECT_COLORS)} "
                         f"({', '.join(OBJECT_COLORS)})")
    return object_state_from_poses({
        c: ((p.position.x, p.position.y, p.position.z), (p.orientation.w, p.orientation.x, p.orientation.y,
                                                          p.orientation.z))
        for c, p in zip(OBJECT_COLORS, msg.poses)})


def object_extents_from_values(values: Sequence[float]) -> np.ndarray:
    """[9] object extents (interfaces.OBJECT_EXTENTS_SIZE: half sizes, m) from a /sim/object_extents message's data;
    ValueError unless there are 9 finite positive values."""
    out = np.asarray(values, dtype=np.float64).reshape(-1)
    if out.shape != (OBJECT_EXTENTS_SIZE,):
        raise ValueError(f"object extents need {OBJECT_EXTENTS_SIZE} values (x, y, z half sizes of "
                         f"{', '.join(OBJECT_COLORS)}), got {out.shape[0]}")
    if not (np.all(np.isfinite(out)) and np.all(out > 0)):
        raise ValueError(f"object extents must be finite and positive, got {out.tolist()}")
    return out


KINEMATIC_VELOCITY = (9, 12)  # kinematic_features' slice holding the pinch linear velocity
KINEMATIC_CLOSING_AXIS = (6, 9)  # kinematic_features' slice holding the pinch y axis, along which the fingers close
GRASP_ALIGNMENT_SIZE = 2  # grasp_alignment's values (after the kinematic features with tokenizer.grasp_alignment)


def kinematic_features(robot: RobotModel, base_position: Sequence[float], proprio: np.ndarray,
                       objects: np.ndarray) -> np.ndarray:
    """[21] in the arm's base frame: pinch position (3), pinch rotation's x and y axes (6), pinch linear velocity
    (3), red - pinch (3), blue - red (3), green - pinch (3): interfaces.KINEMATIC_SIZE values.

    Why: the expert's torque is a function of where red is relative to the fingers; from joint angles and world
    poses a learner must rediscover the arm's forward kinematics to millimetres first. These come from the same
    URDF the controller uses (no extra sensor), so the agent computes them from /joint_states at run time.
    `base_position` is where the arm's base sits in the object poses' frame, axes aligned (the registry arm's
    `RobotDescription.base_position`)."""
    proprio = np.asarray(proprio, dtype=np.float64).reshape(-1)
    objects = np.asarray(objects, dtype=np.float64).reshape(-1)
    if proprio.shape != (PROPRIO_SIZE,) or objects.shape != (OBJECT_STATE_SIZE,):
        raise ValueError(f"kinematic features need proprio [{PROPRIO_SIZE}] and object state [{OBJECT_STATE_SIZE}], "
                         f"got {proprio.shape} and {objects.shape}")
    arm = PROPRIO_SIZE // 2
    q, qd = proprio[:arm], proprio[arm:2 * arm]
    pose = robot.fk(q)
    pinch = pose[:3, 3]
    velocity = np.asarray(robot.jacobian(q), dtype=np.float64)[:3] @ qd
    base = np.asarray(base_position, dtype=np.float64)
    red, green, blue = (objects[7 * i: 7 * i + 3] - base for i in range(len(OBJECT_COLORS)))
    out = np.concatenate([pinch, pose[:3, 0], pose[:3, 1], velocity, red - pinch, blue - red, green - pinch])
    return out


def grasp_alignment(closing_axis: np.ndarray, red_quaternion: np.ndarray) -> np.ndarray:
    """[2] sin 2d, cos 2d of the horizontal angle d from the fingers' closing axis (base frame, the pinch y axis of
    kinematic_features) to red's frame x axis (quaternion wxyz; axes aligned with the base's).

    Why: with grasp frames (tokenizer.object_frame) red's x axis runs along its narrowest width, so d is the wrist
    turn that lines the fingers up with it, modulo pi (the gripper is symmetric). From the quaternion and the pinch
    axes a learner needs fourth-order products to find it, and a tiny Gato does not (docs/MODEL.md, "Seventh
    round")."""
    red_x = quat_to_matrix(np.asarray(red_quaternion, dtype=np.float64))[:, 0]
    axis = np.asarray(closing_axis, dtype=np.float64).reshape(3)
    d = np.arctan2(red_x[1], red_x[0]) - np.arctan2(axis[1], axis[0])
    return np.array([np.sin(2.0 * d), np.cos(2.0 * d)])
