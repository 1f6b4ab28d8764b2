"""Safety layer: the pure logic between requested efforts and the robot (see nodes/safety.py)."""

from gato_ros.safety.config import SafetyConfig
from gato_ros.safety.filter import Mode, SafetyFilter
from gato_ros.safety.shadow import SafetyFilters

__all__ = ["Mode", "SafetyConfig", "SafetyFilter", "SafetyFilters"]
