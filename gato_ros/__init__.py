"""gato_ros: a Gato-style generalist transformer driving torque-controlled arms over ROS 2."""

__version__ = "0.1.0"

ARM_JOINTS: tuple[str, ...] = tuple(f"right_j{i}" for i in range(7))
GRIPPER_JOINT: str = "gripper_joint"
JOINT_NAMES: tuple[str, ...] = ARM_JOINTS + (GRIPPER_JOINT,)
