"""Which MuJoCo builder makes each registry arm: `robot_spec(name, cell)` returns the torque-controlled robot spec,
its base body and its base position in the cell (the registry's `base_position`)."""

from __future__ import annotations

import mujoco

from gato_ros.robot.registry import DEFAULT_ROBOT, load_robot
from gato_ros.sim import robot_mjcf


def sim_robots() -> tuple[str, ...]:
    """Registry arms the sim can build."""
    return ("sawyer", "panda")


def robot_spec(name: str, cell: str, joint_prefix: str | None = None) -> tuple[mujoco.MjSpec, str, tuple]:
    """(spec, base body name, base position) of registry arm `name` for `cell` ('primitive' or 'real')."""
    desc = load_robot(name, joint_prefix)
    if name == DEFAULT_ROBOT:
        spec = robot_mjcf.primitive_robot_spec() if cell == "primitive" else robot_mjcf.real_robot_spec()
        robot_mjcf.finish_robot(spec)
        return spec, robot_mjcf.BASE_BODY, desc.base_position
    if name == "panda":
        from gato_ros.sim import panda_mjcf

        return panda_mjcf.panda_robot_spec(desc), panda_mjcf.BASE_BODY, desc.base_position
    raise robot_mjcf.RobotModelError(f"no MuJoCo builder for robot {name!r}; the sim builds {sim_robots()}")
