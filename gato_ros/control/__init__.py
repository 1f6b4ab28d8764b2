"""Cartesian impedance control on the URDF model: used by the scripted expert and the teleop node."""

from gato_ros.control.impedance import (
    DEFAULT_POSTURE, CartesianImpedanceController, ControlError, ImpedanceGains, twist_to_target,
)
from gato_ros.control.pose import Pose, PoseError, quat_to_matrix, yaw_matrix

__all__ = [
    "DEFAULT_POSTURE", "CartesianImpedanceController", "ControlError", "ImpedanceGains", "Pose", "PoseError",
    "quat_to_matrix", "twist_to_target", "yaw_matrix",
]
