"""Safety layer: the pure logic between requested efforts and the robot (see nodes/safety.py)."""

from gato_ros.safety.config import SafetyConfig
from gato_ros.safety.filter import Mode, SafetyFilter

__all__ = ["Mode", "SafetyConfig", "SafetyFilter"]
