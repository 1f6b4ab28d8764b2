"""The robot description: URDF parsing and RobotModel (FK, Jacobian, gravity torques) in numpy."""

from gato_ros.robot.kinematics import RobotModel, default_urdf_path
from gato_ros.robot.urdf import URDF, URDFError, parse_urdf

__all__ = ["RobotModel", "default_urdf_path", "URDF", "URDFError", "parse_urdf"]
