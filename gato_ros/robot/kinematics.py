"""RobotModel: the URDF's controlled joints, limits, pinch-point FK, geometric Jacobian and gravity torques (numpy)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from gato_ros.interfaces import ARM_JOINTS, GRIPPER_JOINT
from gato_ros.robot.urdf import URDF, Joint, URDFError, parse_urdf

if TYPE_CHECKING:
    from gato_ros.robot.registry import RobotDescription

GRAVITY = 9.81
TOOL_LINK = "pinch"


def default_urdf_path() -> Path:
    """The default robot's URDF from the registry (the Sawyer: urdf/sawyer_2f85.urdf)."""
    from gato_ros.robot.registry import load_robot

    return load_robot().urdf_path()


def _rot(axis: np.ndarray, angle: float) -> np.ndarray:
    """Rotation by `angle` about the unit `axis` (Rodrigues: c I + s [axis]x + (1 - c) axis axis^T), from scalars:
    the agent computes several per control step."""
    x, y, z = (float(a) for a in axis)
    c, s = np.cos(angle), np.sin(angle)
    t = 1.0 - c
    return np.array([[c + t * x * x, t * x * y - s * z, t * x * z + s * y],
                     [t * x * y + s * z, c + t * y * y, t * y * z - s * x],
                     [t * x * z - s * y, t * y * z + s * x, c + t * z * z]])


class RobotModel:
    """Kinematics and statics of the arm (7 joints) from a URDF; the gripper joint is held at 0 (open)."""

    def __init__(self, urdf: URDF, arm_joint_names=ARM_JOINTS, gripper_joint=GRIPPER_JOINT,
                 tool_link: str = TOOL_LINK) -> None:
        self.urdf = urdf
        missing = [j for j in (*arm_joint_names, gripper_joint) if j not in urdf.joints]
        if missing:
            raise URDFError(f"URDF lacks joints {missing}")
        if tool_link not in urdf.links:
            raise URDFError(f"URDF lacks the tool link {tool_link!r}")
        self.arm_joint_names = list(arm_joint_names)
        self.joint_names = self.arm_joint_names + [gripper_joint]
        joints = [urdf.joints[j] for j in self.joint_names]
        self.effort_limits = np.array([j.effort for j in joints])
        self.position_limits = np.array([[j.lower, j.upper] for j in joints])
        self.velocity_limits = np.array([j.velocity for j in joints])
        self.tool_link = tool_link
        self._last_poses: tuple[bytes, tuple[dict, dict]] | None = None  # link_poses of the last q asked for
        self._order = self._topological_joints()
        self._arm_index = {name: i for i, name in enumerate(self.arm_joint_names)}
        chain = self._chain_to(tool_link)
        if [j.name for j in chain if j.type != "fixed"] != self.arm_joint_names:
            raise URDFError(f"the movable joints from the root to {tool_link!r} must be {self.arm_joint_names}, "
                            f"got {[j.name for j in chain if j.type != 'fixed']}")

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_urdf(cls, text: str, joint_names: Sequence[str] | None = None) -> "RobotModel":
        """`joint_names`: the 7 arm joints then the gripper joint (default: the Sawyer's, gato_ros.interfaces)."""
        if joint_names is None:
            return cls(parse_urdf(text))
        names = list(joint_names)
        if len(names) != 8:
            raise URDFError(f"joint_names must be the 7 arm joints and the gripper joint, got {names}")
        return cls(parse_urdf(text), names[:7], names[7])

    @classmethod
    def from_file(cls, path: str | Path, joint_names: Sequence[str] | None = None) -> "RobotModel":
        path = Path(path)
        if not path.is_file():
            raise URDFError(f"URDF file not found: {path}")
        return cls.from_urdf(path.read_text(), joint_names)

    @classmethod
    def for_robot(cls, desc: "RobotDescription") -> "RobotModel":
        """The registry arm's generated URDF, its joints named as `desc` names them (joint_prefix applied)."""
        path = desc.urdf_path()
        if not path.is_file():
            raise URDFError(f"URDF file of robot {desc.name!r} not found: {path}")
        urdf = parse_urdf(path.read_text())
        joints = {desc.rename(n): replace(j, name=desc.rename(n)) for n, j in urdf.joints.items()}
        return cls(URDF(urdf.name, urdf.links, joints), desc.arm_joints, desc.gripper.joint, desc.tool_link)

    def _topological_joints(self) -> list[Joint]:
        order, frontier = [], [self.urdf.root]
        while frontier:
            link = frontier.pop(0)
            for j in self.urdf.child_joints(link):
                order.append(j)
                frontier.append(j.child)
        return order

    def _chain_to(self, link: str) -> list[Joint]:
        chain = []
        j = self.urdf.parent_joint(link)
        while j is not None:
            chain.append(j)
            j = self.urdf.parent_joint(j.parent)
        return chain[::-1]

    # ------------------------------------------------------------------ kinematics

    def _check_q(self, q: np.ndarray) -> np.ndarray:
        q = np.asarray(q, dtype=np.float64)
        if q.shape != (7,) or not np.all(np.isfinite(q)):
            raise ValueError(f"q must be 7 finite arm joint positions, got shape {q.shape}")
        return q

    def link_poses(self, q: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, tuple[np.ndarray, np.ndarray]]]:
        """Base-frame 4x4 pose of every link, and (origin, axis) in the base frame of every movable joint.

        Remembered for the last q (one control step asks for the same joint state 3-4 times: observation, FK,
        Jacobian, gravity); the arrays returned are shared, so callers must not modify them.
        """
        q = self._check_q(q)
        key, last = q.tobytes(), self._last_poses
        if last is not None and last[0] == key:
            return last[1]
        poses = {self.urdf.root: np.eye(4)}
        axes = {}
        for j in self._order:
            frame = poses[j.parent] @ j.origin
            angle = q[self._arm_index[j.name]] if j.name in self._arm_index else 0.0
            if j.type != "fixed":
                axes[j.name] = (frame[:3, 3].copy(), frame[:3, :3] @ j.axis)
            if j.type in ("revolute", "continuous") and angle:
                motion = np.eye(4)
                motion[:3, :3] = _rot(j.axis, angle)
                frame = frame @ motion
            elif j.type == "prismatic" and angle:
                frame = frame.copy()
                frame[:3, 3] += frame[:3, :3] @ j.axis * angle
            poses[j.child] = frame
        result = poses, axes
        self._last_poses = (key, result)
        return result

    def fk(self, q: np.ndarray) -> np.ndarray:
        """4x4 pose of the gripper pinch point in the base frame."""
        return self.link_poses(q)[0][self.tool_link].copy()

    def jacobian(self, q: np.ndarray) -> np.ndarray:
        """[6,7] geometric Jacobian of the pinch point: rows linear (3) then angular (3), base frame."""
        poses, axes = self.link_poses(q)
        p = poses[self.tool_link][:3, 3]
        origins = np.array([axes[name][0] for name in self.arm_joint_names])
        dirs = np.array([axes[name][1] for name in self.arm_joint_names])
        return np.concatenate([np.cross(dirs, p - origins).T, dirs.T])

    def gravity_torques(self, q: np.ndarray) -> np.ndarray:
        """[7] joint torques that hold the arm (gripper and its mass included) still against gravity."""
        poses, axes = self.link_poses(q)
        weight = np.array([0.0, 0.0, GRAVITY])  # the force that cancels gravity on a unit mass
        tau = np.zeros(7)
        for link, inertial in self.urdf.links.items():
            if inertial is None or inertial.mass == 0.0:
                continue
            com = poses[link][:3, :3] @ inertial.com + poses[link][:3, 3]
            force = inertial.mass * weight
            names = self._ancestors(link)
            if names:
                origins = np.array([axes[name][0] for name in names])
                dirs = np.array([axes[name][1] for name in names])
                tau[[self._arm_index[name] for name in names]] += np.einsum(
                    "ij,ij->i", dirs, np.cross(com - origins, force))
        return tau

    def _ancestors(self, link: str) -> list[str]:
        if not hasattr(self, "_ancestor_cache"):
            self._ancestor_cache: dict[str, list[str]] = {}
        if link not in self._ancestor_cache:
            self._ancestor_cache[link] = [j.name for j in self._chain_to(link) if j.name in self._arm_index]
        return self._ancestor_cache[link]
