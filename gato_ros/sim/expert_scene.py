"""What the scripted expert reads from the simulator: object shapes and poses in the robot base frame, the
basket floor height, the gripper's closing axis, and the robot model (privileged state, never observations)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mujoco
import numpy as np


class SceneError(RuntimeError):
    """The simulator lacks a body, geometry or model the expert needs."""


@dataclass(frozen=True)
class ObjectGeometry:
    """An object's collision vertices (base frame, m) and their bounding box."""

    vertices: np.ndarray  # [N, 3]

    @property
    def center(self) -> np.ndarray:
        return 0.5 * (self.vertices.min(0) + self.vertices.max(0))

    @property
    def top(self) -> float:
        return float(self.vertices[:, 2].max())

    @property
    def bottom(self) -> float:
        return float(self.vertices[:, 2].min())

    @property
    def height(self) -> float:
        return self.top - self.bottom


def _box_corners(size: np.ndarray) -> np.ndarray:
    signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=np.float64)
    return signs * size[:3]


def _geom_local_vertices(model: mujoco.MjModel, g: int) -> np.ndarray:
    """Vertices of geom g in its own frame (meshes exactly, primitives by their bounding corners)."""
    gtype = int(model.geom_type[g])
    size = model.geom_size[g]
    if gtype == int(mujoco.mjtGeom.mjGEOM_MESH):
        mesh = model.geom_dataid[g]
        start, count = model.mesh_vertadr[mesh], model.mesh_vertnum[mesh]
        return np.asarray(model.mesh_vert[start:start + count], dtype=np.float64)
    if gtype == int(mujoco.mjtGeom.mjGEOM_BOX):
        return _box_corners(size)
    if gtype == int(mujoco.mjtGeom.mjGEOM_SPHERE):
        return _box_corners(np.array([size[0]] * 3))
    if gtype in (int(mujoco.mjtGeom.mjGEOM_CYLINDER), int(mujoco.mjtGeom.mjGEOM_CAPSULE)):
        ring = np.linspace(0, 2 * np.pi, 16, endpoint=False)
        half = size[1] + (size[0] if gtype == int(mujoco.mjtGeom.mjGEOM_CAPSULE) else 0.0)
        pts = [[size[0] * np.cos(a), size[0] * np.sin(a), z] for a in ring for z in (-half, half)]
        return np.asarray(pts)
    raise SceneError(f"unsupported geom type {gtype} for an object")


class SceneReader:
    """Reads `env.model` / `env.data` (MuJoCo) and `env.robot`; see the module docstring."""

    def __init__(self, env: Any) -> None:
        self.env = env
        self.robot = getattr(env, "robot", None)
        if self.robot is None:
            from gato_ros.robot import RobotModel, default_urdf_path

            self.robot = RobotModel.from_file(default_urdf_path())

    @property
    def model(self) -> mujoco.MjModel:
        return self.env.model

    @property
    def data(self) -> mujoco.MjData:
        return self.env.data

    def _base(self) -> tuple[np.ndarray, np.ndarray]:
        name = getattr(self.env, "base_body", "arm_base_link")
        bid = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_BODY, name)
        if bid < 0:
            raise SceneError(f"no robot base body {name!r} in the MuJoCo model")
        return self.data.xpos[bid].copy(), self.data.xmat[bid].reshape(3, 3).copy()

    def to_base(self, points_world: np.ndarray) -> np.ndarray:
        """World-frame points -> robot base frame (the frame of `RobotModel.fk`)."""
        pos, rot = self._base()
        return (np.asarray(points_world) - pos) @ rot

    def object_body(self, color: str) -> int:
        """Body id of the red / green / blue object."""
        names = getattr(self.env, "object_bodies", None)
        name = names[color] if names else color
        bid = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_BODY, name)
        if bid < 0:
            raise SceneError(f"no {color} object body {name!r} in the MuJoCo model")
        return bid

    def geometry(self, color: str) -> ObjectGeometry:
        """The object's collision geometry in the base frame, at the current simulator state."""
        bid = self.object_body(color)
        points = []
        for g in range(self.model.ngeom):
            if self.model.geom_bodyid[g] != bid or self.model.geom_contype[g] == 0 and \
                    self.model.geom_conaffinity[g] == 0:
                continue
            local = _geom_local_vertices(self.model, g)
            points.append(local @ self.data.geom_xmat[g].reshape(3, 3).T + self.data.geom_xpos[g])
        if not points:
            raise SceneError(f"the {color} object has no collision geometry")
        return ObjectGeometry(self.to_base(np.concatenate(points)))

    @property
    def floor_z(self) -> float:
        """Basket floor height in the base frame."""
        z = getattr(self.env, "floor_z", None)
        if z is None:
            raise SceneError("the environment does not say where the basket floor is (env.floor_z)")
        return float(self.to_base(np.array([[0.0, 0.0, z]]))[0, 2])

    @property
    def top_down_rotation(self) -> np.ndarray:
        """Pinch-frame rotation (base frame) pointing straight down: z axis = -z, x axis along base +x."""
        return np.diag([1.0, -1.0, -1.0])

    @property
    def closing_axis(self) -> np.ndarray:
        """Unit vector in the pinch frame along which the fingers close (the 2F-85 drivers sit on its y axis)."""
        return np.array([0.0, 1.0, 0.0])

    def success(self) -> bool:
        """The benchmark's success test, as the environment computes it."""
        return bool(self.env.success())

    def red_on_blue(self, horizontal: float = 0.03, vertical: float = 0.012) -> bool:
        """Red rests on blue, released: centres within `horizontal`, red's bottom within `vertical` of blue's
        top, and the gripper not holding red. Unlike `success`, this does not depend on the objects' heights."""
        red, blue = self.geometry("red"), self.geometry("blue")
        grasping = bool(getattr(self.env, "grasping", lambda _c: False)("red"))
        return (float(np.linalg.norm(red.center[:2] - blue.center[:2])) <= horizontal
                and abs(red.bottom - blue.top) <= vertical and not grasping)
