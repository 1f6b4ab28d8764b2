"""joy_teleop node: a gamepad or SpaceMouse (sensor_msgs/Joy) -> /teleop/twist and /teleop/gripper at
rate_hz, by the device's mapping in config/teleop_devices.yaml (gato_ros.teleop.joy). The teleop node turns them
into efforts; the safety node still guards them. No fresh /joy: nothing is published and the teleop node holds.

Gamepad: `ros2 run joy joy_node` (its autorepeat keeps a held stick fresh) + `ros2 run gato_ros joy_teleop`.
SpaceMouse: `ros2 run spacenav spacenav_node` + `ros2 run gato_ros joy_teleop --ros-args -p device:=spacemouse`
(its mapping names the topic /spacenav/joy). Or the launch argument teleop_device:=gamepad|spacemouse.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Twist
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from sensor_msgs.msg import Joy
from std_msgs.msg import Float64

from gato_ros.interfaces import (
    ANY_PUBLISHER_QOS, COMMAND_QOS, DIAGNOSTICS_QOS, DIAGNOSTICS_TOPIC, JOY_TOPIC, TELEOP_GRIPPER_TOPIC,
    TELEOP_TWIST_TOPIC,
)
from gato_ros.nodes.common import OK, WARN, declare_dataclass_parameters, diagnostic_array, diagnostic_status, run_node
from gato_ros.teleop.config import JoyTeleopConfig, TeleopError
from gato_ros.teleop.joy import JoyMapper, JoyMappingError, load_mappings


def mapping_path(config: JoyTeleopConfig) -> str:
    """The mapping file: the parameter, else the package's config/teleop_devices.yaml."""
    if config.mapping_file:
        return config.mapping_file
    from gato_ros import paths

    return str(paths.config_dir() / "teleop_devices.yaml")


class JoyTeleopNode(Node):
    """Thin adapter: /joy -> JoyMapper -> /teleop/twist + /teleop/gripper at a fixed rate while /joy is fresh."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("joy_teleop", **kwargs)
        self.config = cfg = declare_dataclass_parameters(self, JoyTeleopConfig)
        path = mapping_path(cfg)
        mappings = load_mappings(path)
        if cfg.device not in mappings:
            raise TeleopError(f"device {cfg.device!r} is not in {path} (devices: {sorted(mappings)})")
        self.mapper = JoyMapper(mappings[cfg.device])
        topic = mappings[cfg.device].topic or JOY_TOPIC
        self.twist = None
        self.joy_t = -float("inf")
        self.counts = {"joy": 0, "bad_joy": 0, "published": 0}
        self.twist_pub = self.create_publisher(Twist, TELEOP_TWIST_TOPIC, COMMAND_QOS.profile())
        self.grip_pub = self.create_publisher(Float64, TELEOP_GRIPPER_TOPIC, COMMAND_QOS.profile())
        self.diag_pub = self.create_publisher(DiagnosticArray, DIAGNOSTICS_TOPIC, DIAGNOSTICS_QOS.profile())
        self.create_subscription(Joy, topic, self._on_joy, ANY_PUBLISHER_QOS.profile())
        steady = Clock(clock_type=ClockType.STEADY_TIME)
        self.create_timer(1.0 / cfg.rate_hz, self._publish, clock=steady)
        self.create_timer(cfg.diagnostics_period_s, self._diagnose, clock=steady)
        self.get_logger().info(f"joy_teleop: device {cfg.device} ({path}) on {topic}, {cfg.rate_hz} Hz")

    def _on_joy(self, msg: Joy) -> None:
        try:
            self.twist = self.mapper.update(list(msg.axes), list(msg.buttons))
        except JoyMappingError as exc:
            self.counts["bad_joy"] += 1
            self.get_logger().error(f"ignored /joy: {exc}", throttle_duration_sec=2.0)
            return
        self.joy_t = time.monotonic()
        self.counts["joy"] += 1

    def _publish(self) -> None:
        if self.twist is None or time.monotonic() - self.joy_t > self.config.joy_timeout_s:
            return  # silent: the teleop node holds the pose after its twist_timeout_s
        msg = Twist()
        msg.linear.x, msg.linear.y, msg.linear.z = (float(x) for x in self.twist[:3])
        msg.angular.x, msg.angular.y, msg.angular.z = (float(x) for x in self.twist[3:])
        self.twist_pub.publish(msg)
        self.grip_pub.publish(Float64(data=float(self.mapper.gripper)))
        self.counts["published"] += 1

    def _diagnose(self) -> None:
        fresh = time.monotonic() - self.joy_t <= self.config.joy_timeout_s
        values = {**self.counts, "device": self.config.device, "fresh": fresh, "gripper": self.mapper.gripper}
        level = OK if fresh and self.counts["bad_joy"] == 0 else WARN
        message = "driving" if fresh else "no fresh /joy"
        self.diag_pub.publish(diagnostic_array(self, [diagnostic_status(self, "joy", level, message, values)]))


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `joy_teleop` executable; SIGINT/SIGTERM stop it cleanly."""
    return run_node(JoyTeleopNode, argv)


if __name__ == "__main__":
    sys.exit(main())
