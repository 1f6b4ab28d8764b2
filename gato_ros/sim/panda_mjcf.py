"""The Franka Panda + Franka Hand as a MuJoCo spec, assembled from robosuite's installed MJCF and meshes.

robosuite (installed with `pip install --no-deps`, an asset source only: none of its Python is imported) ships
robots/panda/robot.xml and grippers/panda_gripper.xml. `panda_robot_spec(desc)` attaches the hand to the flange,
names the joints as the registry entry does (franka_ros2's `panda_joint1..7`, `panda_finger_joint1`), replaces
robosuite's motors (80 Nm on joints 1-5) by torque motors limited to the datasheet efforts of the registry,
couples the fingers, drives them with one normalized grip motor, puts gravity compensation on every robot body and
collision bits as in the Sawyer cell (gato_ros.sim.robot_mjcf)."""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path

import mujoco

from gato_ros.robot.registry import RobotDescription
from gato_ros.sim import robot_mjcf
from gato_ros.sim.assets import AssetsNotInstalledError

BASE_BODY = "link0"  # robosuite's Panda base link (the robot's base frame)
HAND_BODY = "right_hand"  # the flange
GRIPPER_PREFIX = robot_mjcf.GRIPPER_PREFIX
PINCH_SITE = robot_mjcf.PINCH_SITE
PINCH_Z = 0.0934  # the finger pads' centre below the hand frame (m): robosuite's pads at 0.0524 + 0.056 - 0.015
PINCH_QUAT = [0.7071067811865476, 0.0, 0.0, 0.7071067811865476]  # 90 deg about z: the fingers close along y
GRIPPER_TENDON = GRIPPER_PREFIX + "width"
FINGER_BODIES = (GRIPPER_PREFIX + "leftfinger", GRIPPER_PREFIX + "rightfinger")
FINGER_CONTACT_BODIES = {"left": (FINGER_BODIES[0], GRIPPER_PREFIX + "finger_joint1_tip"),
                         "right": (FINGER_BODIES[1], GRIPPER_PREFIX + "finger_joint2_tip")}
_FINGER_JOINTS = ("finger_joint1", "finger_joint2")
_HINT = "pip install --no-deps robosuite==1.5.2"


@lru_cache(maxsize=1)
def robosuite_assets() -> Path:
    """robosuite's models/assets folder on sys.path (found as files; robosuite is never imported)."""
    for entry in sys.path:
        root = Path(entry or ".") / "robosuite" / "models" / "assets"
        if (root / "robots" / "panda" / "robot.xml").is_file():
            return root.resolve()
    raise AssetsNotInstalledError(f"robosuite's Panda MJCF not found on sys.path; run: {_HINT}")


def _asset(rel: str) -> Path:
    path = robosuite_assets() / rel
    if not path.is_file():
        raise AssetsNotInstalledError(f"missing asset {path}; reinstall with: {_HINT}")
    return path


def panda_robot_spec(desc: RobotDescription) -> mujoco.MjSpec:
    """Panda + hand, torque-controlled, joints named by `desc` (see the module docstring)."""
    arm_xml, hand_xml = (_asset(f) for f in desc.mjcf["files"])
    spec = mujoco.MjSpec.from_file(str(arm_xml))
    hand = mujoco.MjSpec.from_file(str(hand_xml))
    for sensor in list(hand.sensors):
        hand.delete(sensor)
    for site in list(hand.sites) + list(spec.sites):  # robosuite's visual markers would show in the cameras
        (hand if site in hand.sites else spec).delete(site)
    spec.body(HAND_BODY).add_frame().attach_body(hand.body("right_gripper"), GRIPPER_PREFIX, "")
    for act in list(spec.actuators):
        spec.delete(act)
    for cam in list(spec.cameras):
        spec.delete(cam)
    for i, name in enumerate(desc.arm_joints):
        spec.joint(f"joint{i + 1}").name = name
    finger1, finger2 = (spec.joint(GRIPPER_PREFIX + j) for j in _FINGER_JOINTS)
    finger1.name = desc.gripper.mjcf_joint
    finger2.name = desc.gripper.mjcf_joint.replace("1", "2")
    # z along the approach, y along the fingers' closing axis: the Sawyer pinch site's convention (the expert's)
    spec.body(GRIPPER_PREFIX + "right_gripper").add_site(name=PINCH_SITE, pos=[0, 0, PINCH_Z], quat=PINCH_QUAT,
                                                          size=[0.005] * 3, group=5)
    robot_mjcf.compensate_gravity_no_self_collision(robot_bodies(spec))
    for key, values in desc.sim_joint_dynamics.items():  # the cell's joint dynamics (robots/panda/robot.yaml)
        for name, value in zip(desc.arm_joints, values):
            joint = spec.joint(name)
            if key == "damping":  # an array in MjSpec (linear coefficient first)
                joint.damping = [value, 0.0, 0.0]
            else:
                setattr(joint, key, value)
    for i, (name, effort) in enumerate(zip(desc.arm_joints, desc.effort_limits)):
        act = spec.add_actuator(name=robot_mjcf.ARM_ACTUATORS[i], target=name, trntype=mujoco.mjtTrn.mjTRN_JOINT)
        act.ctrllimited = mujoco.mjtLimited.mjLIMITED_TRUE
        act.ctrlrange[:] = [-effort, effort]
    spec.add_equality(type=mujoco.mjtEq.mjEQ_JOINT, name1=finger1.name, name2=finger2.name,
                      data=[0, -1, 0, 0, 0] + [0] * 6 + [0])  # finger2 = -finger1
    width = spec.add_tendon(name=GRIPPER_TENDON)
    width.wrap_joint(finger1.name, 1.0)
    width.wrap_joint(finger2.name, -1.0)
    grip = spec.add_actuator(name=robot_mjcf.GRIP_ACTUATOR, target=GRIPPER_TENDON, trntype=mujoco.mjtTrn.mjTRN_TENDON)
    grip.gear[0] = -desc.gripper.force  # +1 closes: pushes the fingers together (width down)
    grip.ctrllimited = mujoco.mjtLimited.mjLIMITED_TRUE
    grip.ctrlrange[:] = [-1.0, 1.0]
    spec.modelname = f"{desc.name}_hand"
    return spec


def robot_bodies(spec: mujoco.MjSpec) -> list:
    """Every body of the Panda subtree (arm and hand)."""
    base = spec.body(BASE_BODY)
    if base is None:
        raise robot_mjcf.RobotModelError(f"no {BASE_BODY!r} body in the Panda spec")
    return [base] + list(base.find_all(mujoco.mjtObj.mjOBJ_BODY))
