"""teleop node: /teleop/twist (base-frame pinch-point velocity) and /teleop/gripper (0 open .. 1 closed) ->
joint torques by the Cartesian impedance controller on the URDF model -> /gato/effort_command at a fixed rate
(the safety node still guards). No fresh twist: hold the current pose. No fresh joint state: publish nothing.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Twist
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64, Float64MultiArray
from std_srvs.srv import Trigger

from gato_ros.interfaces import (
    ANY_PUBLISHER_QOS, COMMAND_QOS, COMMAND_TOPIC, DIAGNOSTICS_QOS, DIAGNOSTICS_TOPIC, JOINT_STATES_TOPIC,
    TELEOP_GRIPPER_TOPIC, TELEOP_TWIST_TOPIC,
)
from gato_ros.nodes.common import (
    OK, WARN, announce_commander, declare_dataclass_parameters, diagnostic_array, diagnostic_status, run_node,
)
from gato_ros.observation import JointNameError, reorder_joint_state
from gato_ros.teleop import TeleopConfig, TeleopController, TeleopError, TwistWatchdog

STATE_TIMEOUT_S = 0.5


def load_robot(config: TeleopConfig) -> Any:
    """The RobotModel from `robot_description` text, else `urdf_path`, else the package URDF; its joints are the
    config's `joint_names` (configs without that field, the foxglove node's, get the default arm's names)."""
    from gato_ros.robot import RobotModel, default_urdf_path

    names = getattr(config, "joint_names", None)
    if config.robot_description.strip():
        return RobotModel.from_urdf(config.robot_description, names)
    return RobotModel.from_file(config.urdf_path or default_urdf_path(), names)


def twist_vector(msg: Twist) -> np.ndarray:
    """geometry_msgs/Twist -> (vx, vy, vz, wx, wy, wz)."""
    return np.array([msg.linear.x, msg.linear.y, msg.linear.z, msg.angular.x, msg.angular.y, msg.angular.z])


class TeleopNode(Node):
    """Thin adapter: topics in, TeleopController.step each tick, efforts out."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("teleop", **kwargs)
        self.config = cfg = declare_dataclass_parameters(self, TeleopConfig)
        self.controller = TeleopController(load_robot(cfg), cfg)
        self.watchdog = TwistWatchdog(cfg.twist_timeout_s)
        self.gripper = cfg.initial_gripper
        self.q: np.ndarray | None = None
        self.qd: np.ndarray | None = None
        self.state_t = -np.inf
        self.last_tick: float | None = None
        self.counts = {"commands": 0, "twists": 0, "bad_twists": 0, "gripper": 0, "bad_joint_states": 0,
                       "held_ticks": 0, "no_state_ticks": 0}
        self.pub = self.create_publisher(Float64MultiArray, COMMAND_TOPIC, COMMAND_QOS.profile())
        self.announcement = announce_commander(self, "teleop")  # the recorder labels episodes by it
        self.diag_pub = self.create_publisher(DiagnosticArray, DIAGNOSTICS_TOPIC, DIAGNOSTICS_QOS.profile())
        any_publisher = ANY_PUBLISHER_QOS.profile()
        self.create_subscription(Twist, TELEOP_TWIST_TOPIC, self._on_twist, any_publisher)
        self.create_subscription(Float64, TELEOP_GRIPPER_TOPIC, self._on_gripper, any_publisher)
        self.create_subscription(JointState, JOINT_STATES_TOPIC, self._on_joint_state, any_publisher)
        self.create_service(Trigger, "~/reset", self._on_reset)
        steady = Clock(clock_type=ClockType.STEADY_TIME)
        self.create_timer(1.0 / cfg.control_rate_hz, self._tick, clock=steady)
        self.create_timer(cfg.diagnostics_period_s, self._diagnose, clock=steady)
        self.get_logger().info(f"teleop: {cfg.control_rate_hz} Hz, twist timeout {cfg.twist_timeout_s} s")

    def _on_twist(self, msg: Twist) -> None:
        v = twist_vector(msg)
        if not np.all(np.isfinite(v)):
            self.counts["bad_twists"] += 1
            return
        self.watchdog.update(v, time.monotonic())
        self.counts["twists"] += 1

    def _on_gripper(self, msg: Float64) -> None:
        if np.isfinite(msg.data):
            self.gripper = float(np.clip(msg.data, 0.0, 1.0))
            self.counts["gripper"] += 1

    def _on_joint_state(self, msg: JointState) -> None:
        try:
            q = reorder_joint_state(list(msg.name), list(msg.position), self.config.joint_names)
            qd = reorder_joint_state(list(msg.name), list(msg.velocity), self.config.joint_names) \
                if len(msg.velocity) else np.zeros(len(self.config.joint_names))
        except (JointNameError, ValueError, IndexError):
            self.counts["bad_joint_states"] += 1  # e.g. a gripper-only driver's partial message
            return
        self.q, self.qd, self.state_t = np.asarray(q, float), np.asarray(qd, float), time.monotonic()

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        if self.q is None:
            response.success, response.message = False, "no joint state yet"
        else:
            self.controller.reset(self.q)
            response.success, response.message = True, "holding the current pose"
        return response

    def _tick(self) -> None:
        now = time.monotonic()
        dt = 1.0 / self.config.control_rate_hz if self.last_tick is None else min(now - self.last_tick, 0.2)
        self.last_tick = now
        if self.q is None or now - self.state_t > STATE_TIMEOUT_S:
            self.counts["no_state_ticks"] += 1  # publish nothing: the safety node holds the arm
            return
        twist = self.watchdog.get(now)
        self.counts["held_ticks"] += twist is None
        try:
            efforts = self.controller.step(self.q, self.qd, twist, self.gripper, dt)
        except (TeleopError, ValueError) as exc:
            self.get_logger().error(f"teleop step failed: {exc}", throttle_duration_sec=1.0)
            return
        self.pub.publish(Float64MultiArray(data=[float(x) for x in efforts]))
        self.counts["commands"] += 1

    def _diagnose(self) -> None:
        target = self.controller.target
        values: dict[str, Any] = {**self.counts, "gripper": self.gripper, "reanchors": self.controller.reanchors,
                                  "twist_fresh": self.watchdog.get(time.monotonic()) is not None}
        if target is not None:
            values["target_xyz"] = [float(x) for x in target.position]
        level = OK if self.q is not None else WARN
        message = "no joint state" if self.q is None else ("moving" if values["twist_fresh"] else "holding")
        self.diag_pub.publish(diagnostic_array(self, [diagnostic_status(self, "teleop", level, message, values)]))


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `teleop` executable; SIGINT/SIGTERM stop it cleanly."""
    return run_node(TeleopNode, argv)


if __name__ == "__main__":
    sys.exit(main())
