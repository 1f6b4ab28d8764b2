"""Which MuJoCo builder makes each registry arm: `sim_arm(name, cell)` returns the torque-controlled robot spec with
what the cell and StackingEnv need to know of it (base body, base position, finger bodies)."""

from __future__ import annotations

from dataclasses import dataclass

import mujoco

from gato_ros.robot.registry import DEFAULT_ROBOT, load_robot
from gato_ros.sim import robot_mjcf

SIM_ROBOTS = ("sawyer", "panda")


@dataclass
class SimArm:
    """A registry arm as a MuJoCo spec: actuators ARM_ACTUATORS + GRIP_ACTUATOR, site PINCH_SITE (robot_mjcf)."""

    spec: mujoco.MjSpec
    base_body: str
    base_position: tuple[float, float, float]
    finger_bodies: dict[str, tuple[str, ...]]  # 'left'/'right': bodies whose geoms are that finger's contact surface


def finger_bodies(name: str) -> dict[str, tuple[str, ...]]:
    """'left'/'right' -> the bodies whose geoms are that finger's contact surface (StackingEnv.touching)."""
    if name == "panda":
        from gato_ros.sim import panda_mjcf

        return dict(panda_mjcf.FINGER_CONTACT_BODIES)
    return {side: tuple(robot_mjcf.GRIPPER_PREFIX + f"{side}_{part}" for part in ("pad", "follower"))
            for side in ("left", "right")}


def base_body(name: str) -> str:
    """The body of arm `name` that is its base frame (the URDF's root)."""
    if name == "panda":
        from gato_ros.sim import panda_mjcf

        return panda_mjcf.BASE_BODY
    return robot_mjcf.BASE_BODY


def sim_arm(name: str, cell: str, joint_prefix: str | None = None) -> SimArm:
    """Registry arm `name` for `cell` ('primitive' or 'real'); `joint_prefix` as in registry.load_robot."""
    desc = load_robot(name, joint_prefix)
    if name == DEFAULT_ROBOT:
        spec = robot_mjcf.primitive_robot_spec() if cell == "primitive" else robot_mjcf.real_robot_spec()
        robot_mjcf.finish_robot(spec)
        return SimArm(spec, base_body(name), desc.base_position, finger_bodies(name))
    if name == "panda":
        from gato_ros.sim import panda_mjcf

        return SimArm(panda_mjcf.panda_robot_spec(desc), base_body(name), desc.base_position, finger_bodies(name))
    raise robot_mjcf.RobotModelError(f"no MuJoCo builder for robot {name!r}; the sim builds {SIM_ROBOTS}")
