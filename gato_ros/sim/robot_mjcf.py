"""The robot (Sawyer + Robotiq FTS300 + Robotiq 2F-85) as a MuJoCo spec, for both cells.

`real_robot_spec()` assembles the genuine installed MJCF (sawyer.xml only compiles with the torque-actuator
defaults merged in). `primitive_robot_spec()` loads our committed `sim/primitive_robot.xml`, generated from the
real one by `sim/generate_robot.py` (same bodies, joints, inertials; boxes instead of meshes).
`finish_robot(spec)` then makes either one torque-controlled: gravcomp on every robot body, no arm
self-collision, and the gripper's position servo replaced by a normalized grip motor."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import mujoco

from gato_ros.robot.registry import load_robot
from gato_ros.sim import assets

BASE_BODY = "arm_base_link"
HAND_BODY = "hand"
FTS_PREFIX = "fts300/"
GRIPPER_PREFIX = "gripper/"
GRIPPER_BASE = GRIPPER_PREFIX + "base"
PINCH_SITE = GRIPPER_PREFIX + "pinch_site"
GRIPPER_TENDON = GRIPPER_PREFIX + "split"
GRIPPER_DRIVER_JOINT = GRIPPER_PREFIX + "left_driver_joint"  # what the 2F-85 driver reports (0 open .. 0.8 closed)
GRIPPER_FORCE = load_robot("sawyer").gripper.force  # tendon force at |grip command| = 1 (robots/sawyer)
ARM_ACTUATORS = tuple(f"j{i}" for i in range(7))
GRIP_ACTUATOR = "grip"
# Collision bits (contype/conaffinity): basket 1/1, objects 17/1, gripper as shipped (2 or 6 / 1 or 5), arm
# links 8/16: the arm touches the objects but not the basket, itself or the gripper; the gripper touches all.
ARM_CONTYPE, ARM_CONAFFINITY = 8, 16
OBJECT_CONTYPE, OBJECT_CONAFFINITY = 17, 1


class RobotModelError(RuntimeError):
    """The robot MJCF could not be assembled."""


def _merged_sawyer_xml() -> str:
    """sawyer.xml with the torque-actuator defaults and motors merged in, meshdir made absolute."""
    path = assets.sawyer_xml()
    root = ET.parse(path).getroot()
    torque = ET.parse(assets.sawyer_torque_actuators_xml()).getroot()
    default = root.find("default")
    if default is None:
        raise RobotModelError(f"{path} has no <default>")
    for child in torque.find("default"):
        default.append(child)
    root.append(torque.find("actuator"))
    compiler = root.find("compiler")
    compiler.set("meshdir", str((path.parent / compiler.get("meshdir", "")).resolve()))
    return ET.tostring(root, encoding="unicode")


def real_robot_spec() -> mujoco.MjSpec:
    """Sawyer (torque actuators) + FTS300 + 2F-85 from the installed dm-robotics-moma MJCF."""
    spec = mujoco.MjSpec.from_string(_merged_sawyer_xml())
    fts = mujoco.MjSpec.from_file(str(assets.fts300_xml()))
    gripper = mujoco.MjSpec.from_file(str(assets.robotiq_2f85_xml()))
    hand = spec.body(HAND_BODY)
    hand.add_frame().attach_body(fts.body("base_mount"), FTS_PREFIX, "")
    sensor_body = spec.body(FTS_PREFIX + "fts300_sensor_body")
    sensor_body.add_frame().attach_body(gripper.body("base_mount"), GRIPPER_PREFIX, "")
    return spec


def primitive_robot_xml_path() -> Path:
    from gato_ros.paths import sim_dir

    return sim_dir() / "primitive_robot.xml"


def primitive_robot_spec() -> mujoco.MjSpec:
    """The committed primitive-geometry robot (no dm-robotics install needed)."""
    path = primitive_robot_xml_path()
    if not path.is_file():
        raise RobotModelError(f"missing {path}; regenerate with `python sim/generate_robot.py`")
    return mujoco.MjSpec.from_file(str(path))


def robot_bodies(spec: mujoco.MjSpec) -> list:
    """Every body of the robot subtree (arm, sensor, gripper)."""
    base = spec.body(BASE_BODY)
    if base is None:
        raise RobotModelError(f"no {BASE_BODY!r} body in the robot spec")
    return [base] + list(base.find_all(mujoco.mjtObj.mjOBJ_BODY))


def compensate_gravity_no_self_collision(bodies: list) -> None:
    """Gravity compensation on every robot body, and the arm's colliding geoms (not the gripper's, whose bodies
    start with GRIPPER_PREFIX) in the arm's collision class, which never collides with itself."""
    for body in bodies:
        body.gravcomp = 1.0
        if body.name.startswith(GRIPPER_PREFIX):
            continue
        for geom in body.geoms:
            if geom.contype or geom.conaffinity:
                geom.contype, geom.conaffinity = ARM_CONTYPE, ARM_CONAFFINITY


def finish_robot(spec: mujoco.MjSpec) -> None:
    """Torque control on top of gravity compensation; grip motor in [-1, 1]; no arm self-collision."""
    compensate_gravity_no_self_collision(robot_bodies(spec))
    for act in list(spec.actuators):
        if act.name.startswith(GRIPPER_PREFIX):
            spec.delete(act)
    for sensor in list(spec.sensors):
        if sensor.name.startswith(GRIPPER_PREFIX):
            spec.delete(sensor)
    grip = spec.add_actuator(name=GRIP_ACTUATOR, target=GRIPPER_TENDON, trntype=mujoco.mjtTrn.mjTRN_TENDON)
    grip.gear[0] = GRIPPER_FORCE
    grip.ctrllimited = mujoco.mjtLimited.mjLIMITED_TRUE
    grip.ctrlrange[:] = [-1.0, 1.0]
    grip.forcelimited = mujoco.mjtLimited.mjLIMITED_FALSE
