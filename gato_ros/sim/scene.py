"""Builds the MuJoCo RGB Stacking cell: robot, basket, cameras, lights and the red/green/blue objects.

cell='primitive': our committed primitive robot (sim/primitive_robot.xml), basket and objects as boxes and
cylinders sized like the rgb_v1.3 objects. cell='real': the genuine installed assets (Sawyer + FTS300 + 2F-85
MJCF, rgb_basket meshes, rgb_v1.3 object meshes) with the basket's collision boxes and cameras added.
Both share kinematics, joint names, limits, cameras, physics options and object names."""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from gato_ros.robot.registry import DEFAULT_ROBOT, load_robot
from gato_ros.sim import objects, robot_mjcf

CELLS = ("primitive", "real")
PHYSICS_DT = 0.0005
#: robot base in the world (basket floor centre is the origin, floor top z = 0): the default arm's registry value
ROBOT_POS = load_robot(DEFAULT_ROBOT).base_position
FLOOR_Z = 0.0
CAMERA_REF = np.array(ROBOT_POS)  # the basket's camera reference frame (identity rotation)
CAMERAS = {  # name: (fovy deg, pos in the camera frame, quat wxyz) - the benchmark's basket cameras
    "basket_front_left": (35.0, (0.970, -0.375, 0.235), (0.7815, 0.4900, 0.2050, 0.3272)),
    "basket_front_right": (35.0, (0.970, 0.375, 0.235), (0.3272, 0.2050, 0.4900, 0.7815)),
    "basket_back_left": (30.0, (0.060, -0.260, 0.390), (0.754, 0.373, -0.250, -0.480)),
}
VISUAL_GROUP, HIDDEN_GROUP = 2, 4  # cameras render groups 0-2; 4 holds collision-only / high-poly geoms
HIGH_POLY_FACES = 10000  # meshes above this are hidden from cameras and replaced by their boxes
OBJECT_DENSITY = 1000.0
OBJECT_FRICTION = (1.0, 0.005, 0.0001)
BASKET_RGBA = (0.55, 0.55, 0.55, 1.0)


class SceneError(ValueError):
    """Unknown cell or a scene that cannot be built."""


@dataclass(frozen=True)
class BasketGeom:
    name: str
    type: int
    size: tuple[float, ...]
    pos: tuple[float, float, float] = (0.0, 0.0, 0.0)
    axisangle: tuple[float, float, float, float] | None = None
    fromto: tuple[float, ...] | None = None


_BOX, _CAPSULE = mujoco.mjtGeom.mjGEOM_BOX, mujoco.mjtGeom.mjGEOM_CAPSULE
# The basket's floor, sloped walls and rim struts (the benchmark's simplified collision geometry).
BASKET_GEOMS = (
    BasketGeom("basket_floor", _BOX, (0.25, 0.25, 0.02), (0.0, 0.0, -0.02)),
    BasketGeom("basket_wall_1", _BOX, (0.20, 0.40, 0.005), (-0.28, 0.0, 0.07), (0, 1, 0, 0.44506)),
    BasketGeom("basket_wall_2", _BOX, (0.20, 0.40, 0.005), (0.28, 0.0, 0.07), (0, 1, 0, 2.69653)),
    BasketGeom("basket_wall_3", _BOX, (0.40, 0.20, 0.005), (0.0, -0.28, 0.07), (1, 0, 0, 2.69653)),
    BasketGeom("basket_wall_4", _BOX, (0.40, 0.20, 0.005), (0.0, 0.28, 0.07), (1, 0, 0, 0.44506)),
    BasketGeom("basket_strut_back", _CAPSULE, (0.05,), fromto=(0.4, 0.42, 0.15, -0.4, 0.42, 0.15)),
    BasketGeom("basket_strut_front", _CAPSULE, (0.05,), fromto=(0.4, -0.42, 0.15, -0.4, -0.42, 0.15)),
    BasketGeom("basket_strut_right", _CAPSULE, (0.05,), fromto=(-0.42, 0.4, 0.15, -0.42, -0.4, 0.15)),
    BasketGeom("basket_strut_left", _CAPSULE, (0.05,), fromto=(0.42, 0.4, 0.15, 0.42, -0.4, 0.15)),
)


def _add_world(spec: mujoco.MjSpec, cell: str) -> None:
    spec.option.timestep = PHYSICS_DT
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    spec.visual.global_.offwidth = 640
    spec.visual.global_.offheight = 480
    spec.visual.quality.shadowsize = 0
    spec.visual.headlight.ambient = [0.4, 0.4, 0.4]
    spec.visual.headlight.diffuse = [0.5, 0.5, 0.5]
    spec.visual.headlight.specular = [0.0, 0.0, 0.0]
    world = spec.worldbody
    world.add_light(name="top", pos=[0, 0, 2.0], dir=[0, 0, -1], castshadow=False, diffuse=[0.5, 0.5, 0.5])
    world.add_geom(name="ground", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[3, 3, 0.1], pos=[0, 0, -0.3],
                   rgba=[0.35, 0.33, 0.3, 1], group=VISUAL_GROUP, contype=0, conaffinity=0)
    visible = cell == "primitive"
    for g in BASKET_GEOMS:
        geom = world.add_geom(name=g.name, type=g.type, contype=1, conaffinity=1, rgba=list(BASKET_RGBA),
                              group=VISUAL_GROUP if visible else HIDDEN_GROUP)
        geom.size[: len(g.size)] = g.size
        if g.fromto is not None:
            geom.fromto = list(g.fromto)
        else:
            geom.pos = list(g.pos)
        if g.axisangle is not None:
            quat = np.zeros(4)
            mujoco.mju_axisAngle2Quat(quat, np.asarray(g.axisangle[:3], dtype=np.float64), g.axisangle[3])
            geom.quat = quat
    for name, (fovy, pos, quat) in CAMERAS.items():
        world.add_camera(name=name, fovy=fovy, pos=list(CAMERA_REF + np.array(pos)), quat=list(quat))


def _add_real_basket(spec: mujoco.MjSpec) -> None:
    from gato_ros.sim import assets

    basket = mujoco.MjSpec.from_file(str(assets.basket_xml()))
    for geom in basket.geoms:
        geom.contype, geom.conaffinity, geom.group = 0, 0, VISUAL_GROUP
    spec.worldbody.add_frame().attach_body(basket.body("rgb_basket"), "basket/", "")


def _add_object(spec: mujoco.MjSpec, cell: str, color: str, name: str) -> None:
    body = spec.worldbody.add_body(name=color, pos=[0, 0, 0.5])
    body.add_freejoint(name=f"{color}_joint")
    rgba = list(objects.RGBA[color])
    if cell == "real":
        from gato_ros.sim import assets

        mesh = spec.add_mesh(name=f"{color}_mesh", file=str(assets.rgb_object_mesh(name)))
        body.add_geom(name=f"{color}_geom", type=mujoco.mjtGeom.mjGEOM_MESH, meshname=mesh.name, rgba=rgba,
                      density=OBJECT_DENSITY, friction=list(OBJECT_FRICTION), contype=robot_mjcf.OBJECT_CONTYPE,
                      conaffinity=robot_mjcf.OBJECT_CONAFFINITY, group=0)
        return
    s = objects.shape(name)
    ex = np.asarray(s.extents)
    if s.is_box:
        body.add_geom(name=f"{color}_geom", type=_BOX, size=list(ex / 2), rgba=rgba, density=OBJECT_DENSITY,
                      friction=list(OBJECT_FRICTION), contype=robot_mjcf.OBJECT_CONTYPE,
                      conaffinity=robot_mjcf.OBJECT_CONAFFINITY, group=0)
    else:
        body.add_geom(name=f"{color}_geom", type=mujoco.mjtGeom.mjGEOM_CYLINDER,
                      size=[0.25 * (ex[0] + ex[1]), ex[2] / 2, 0], rgba=rgba, density=OBJECT_DENSITY,
                      friction=list(OBJECT_FRICTION), contype=robot_mjcf.OBJECT_CONTYPE,
                      conaffinity=robot_mjcf.OBJECT_CONAFFINITY, group=0)


def _hide_high_poly(spec: mujoco.MjSpec, model: mujoco.MjModel) -> None:
    """Move meshes above HIGH_POLY_FACES out of the camera groups, leaving a box of the same extent in view."""
    for geom in list(spec.geoms):
        if geom.type != mujoco.mjtGeom.mjGEOM_MESH or geom.group == HIDDEN_GROUP:
            continue
        g = model.geom(geom.name).id
        if model.mesh_facenum[model.geom_dataid[g]] <= HIGH_POLY_FACES:
            continue
        center, half = model.geom_aabb[g][:3], model.geom_aabb[g][3:]
        rot = np.zeros(9)
        mujoco.mju_quat2Mat(rot, model.geom_quat[g])
        body = spec.body(model.body(model.geom_bodyid[g]).name)
        body.add_geom(name=geom.name + "_proxy", type=_BOX, size=list(half), contype=0, conaffinity=0,
                      pos=list(model.geom_pos[g] + rot.reshape(3, 3) @ center), quat=list(model.geom_quat[g]),
                      rgba=list(model.geom_rgba[g]), group=VISUAL_GROUP, density=0.0, mass=0.0)
        geom.group = HIDDEN_GROUP


def build_spec(cell: str, triplet: tuple[str, str, str], robot: str = DEFAULT_ROBOT) -> mujoco.MjSpec:
    """The cell's MjSpec with objects (red, green, blue) named by `triplet` and registry arm `robot`."""
    from gato_ros.sim.robots import sim_arm

    if cell not in CELLS:
        raise SceneError(f"unknown cell {cell!r}; choose one of {CELLS}")
    arm = sim_arm(robot, cell)
    spec = arm.spec
    spec.body(arm.base_body).pos = list(arm.base_position)
    spec.modelname = f"rgb_stacking_{cell}" if robot == DEFAULT_ROBOT else f"rgb_stacking_{cell}_{robot}"
    _add_world(spec, cell)
    if cell == "real":
        _add_real_basket(spec)
    for color, name in zip(objects.COLORS, triplet):
        _add_object(spec, cell, color, name)
    for i, geom in enumerate(spec.geoms):
        if not geom.name:
            geom.name = f"geom{i}"
    if cell == "real":
        _hide_high_poly(spec, spec.compile())
    return spec


def build_model(cell: str, triplet: tuple[str, str, str], robot: str = DEFAULT_ROBOT) -> mujoco.MjModel:
    return build_spec(cell, triplet, robot).compile()
