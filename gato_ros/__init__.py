"""gato_ros: a Gato-style generalist transformer driving torque-controlled arms over ROS 2."""

__version__ = "0.1.0"
