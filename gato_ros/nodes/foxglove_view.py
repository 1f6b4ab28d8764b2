"""foxglove node: the live view. Subscribes to the graph's topics and streams them to Foxglove over a WebSocket
server (`foxglove-sdk`): camera, joint states, commanded and safety-output efforts, safety mode and interventions,
agent latency and command rate, the sim's episode stage, the arm's link frames and the objects (3D panel).

Open Foxglove, "Open connection", Foxglove WebSocket, ws://127.0.0.1:8765 (on a headless robot: through an SSH
tunnel), and import config/foxglove_layout.json. Read-only: it publishes nothing to the arm.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseArray
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Float64MultiArray, String

from gato_ros.interfaces import (
    ACTION_DISTRIBUTION_TOPIC, ANY_PUBLISHER_QOS, ARM_JOINTS, CAMERA_TOPIC, COMMAND_TOPIC, DIAGNOSTICS_QOS,
    DIAGNOSTICS_TOPIC, EFFORT_OUTPUT_TOPIC, JOINT_NAMES, JOINT_STATES_TOPIC, OBJECT_POSES_TOPIC, SENSOR_QOS,
)
from gato_ros.liveview import (
    AGENT_CHANNEL, EPISODE_CHANNEL, OBJECTS_CHANNEL, SAFETY_CHANNEL, TF_CHANNEL, WORLD_FRAME, FoxgloveBridge,
    FoxgloveConfig, RateLimiter, RateMeter, Transform, agent_payload, efforts_payload, episode_payload,
    joints_payload, link_transforms, safety_payload, status_node,
)
from gato_ros.nodes.common import (
    OK, WARN, declare_dataclass_parameters, diagnostic_array, diagnostic_status, diagnostic_values, run_node,
)
from gato_ros.nodes.teleop import load_robot
from gato_ros.observation import JointNameError, object_state_from_pose_array, reorder_joint_state


class FoxgloveNode(Node):
    """Thin adapter: ROS messages in, FoxgloveBridge channels out (rate-limited per FoxgloveConfig)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("foxglove", **kwargs)
        self.config = cfg = declare_dataclass_parameters(self, FoxgloveConfig)
        self.robot = load_robot(cfg)
        self.bridge = FoxgloveBridge(cfg.host, cfg.port)
        self.image_limit = RateLimiter(cfg.image_rate_hz)
        self.state_limit = RateLimiter(cfg.state_rate_hz)
        self.output_limit = RateLimiter(cfg.state_rate_hz)
        self.objects_limit = RateLimiter(cfg.state_rate_hz)
        self.command_rate = RateMeter()
        self.base_in_world: Transform | None = None  # the sim cell's robot base, once object poses show a sim
        self.errors = 0
        any_publisher = ANY_PUBLISHER_QOS.profile()
        self.create_subscription(Image, CAMERA_TOPIC, self._on_image, SENSOR_QOS.profile())
        self.create_subscription(JointState, JOINT_STATES_TOPIC, self._on_joint_state, any_publisher)
        self.create_subscription(Float64MultiArray, COMMAND_TOPIC, self._on_command, any_publisher)
        self.create_subscription(Float64MultiArray, EFFORT_OUTPUT_TOPIC, self._on_output, any_publisher)
        self.create_subscription(PoseArray, OBJECT_POSES_TOPIC, self._on_object_poses, any_publisher)
        self.create_subscription(DiagnosticArray, DIAGNOSTICS_TOPIC, self._on_diagnostics, DIAGNOSTICS_QOS.profile())
        self.diag_pub = self.create_publisher(DiagnosticArray, DIAGNOSTICS_TOPIC, DIAGNOSTICS_QOS.profile())
        steady = Clock(clock_type=ClockType.STEADY_TIME)
        self.create_timer(cfg.diagnostics_period_s, self._diagnose, clock=steady)
        self.distribution_sub = None  # subscribed only while a client watches it: the agent computes it on demand
        self.create_timer(0.5, self._follow_distribution_interest, clock=steady)
        self.get_logger().info(f"Foxglove WebSocket server on ws://{cfg.host}:{self.bridge.port} "
                               "(Foxglove: Open connection > Foxglove WebSocket; layout config/foxglove_layout.json)")

    def _guard(self, fn: Any) -> None:
        """Bad input is counted and logged, never fatal: the view must not take the graph down."""
        try:
            fn()
        except (ValueError, JointNameError, IndexError) as exc:
            self.errors += 1
            self.get_logger().warning(f"dropped a message: {exc}", throttle_duration_sec=2.0)

    def _on_image(self, msg: Image) -> None:
        t = time.time_ns()
        if self.bridge.wanted(CAMERA_TOPIC) and self.image_limit.ready(t * 1e-9):
            self._guard(lambda: self.bridge.image(msg.width, msg.height, msg.encoding, msg.step, bytes(msg.data), t))

    def _on_joint_state(self, msg: JointState) -> None:
        t = time.time_ns()
        joints, frames = self.bridge.wanted(JOINT_STATES_TOPIC), self.bridge.wanted(TF_CHANNEL)
        if not (joints or frames) or not self.state_limit.ready(t * 1e-9):
            return

        def forward() -> None:
            n = len(msg.name)
            if joints:
                vel = list(msg.velocity) if len(msg.velocity) == n else [0.0] * n
                eff = list(msg.effort) if len(msg.effort) == n else [0.0] * n
                self.bridge.log_json(JOINT_STATES_TOPIC, joints_payload(msg.name, msg.position, vel, eff), t)
            if not frames:
                return
            q = np.asarray(reorder_joint_state(list(msg.name), list(msg.position), ARM_JOINTS), float)
            poses, _ = self.robot.link_poses(q)
            links = link_transforms(poses, self.robot.urdf.root)
            self.bridge.transforms(links + ([self.base_in_world] if self.base_in_world else []), t)

        self._guard(forward)

    def _on_command(self, msg: Float64MultiArray) -> None:
        t = time.time_ns()
        self.command_rate.tick(t * 1e-9)
        if self.bridge.wanted(COMMAND_TOPIC):
            self._guard(lambda: self.bridge.log_json(COMMAND_TOPIC, efforts_payload(msg.data, JOINT_NAMES), t))

    def _on_output(self, msg: Float64MultiArray) -> None:
        t = time.time_ns()
        if self.bridge.wanted(EFFORT_OUTPUT_TOPIC) and self.output_limit.ready(t * 1e-9):
            self._guard(lambda: self.bridge.log_json(EFFORT_OUTPUT_TOPIC, efforts_payload(msg.data, JOINT_NAMES), t))

    def _on_object_poses(self, msg: PoseArray) -> None:
        t = time.time_ns()
        if not (self.bridge.wanted(OBJECTS_CHANNEL) and self.objects_limit.ready(t * 1e-9)):
            return
        if self.base_in_world is None:  # object poses come from the sim only: place its robot base in its world
            from gato_ros.sim.scene import ROBOT_POS

            self.base_in_world = Transform(WORLD_FRAME, self.robot.urdf.root, tuple(float(v) for v in ROBOT_POS),
                                           (0.0, 0.0, 0.0, 1.0))
        self._guard(lambda: self.bridge.objects(object_state_from_pose_array(msg), t))

    def _follow_distribution_interest(self) -> None:
        """Subscribe to the agent's action distribution while a Foxglove client watches it (the agent publishes it
        only to subscribers, so without a watcher it costs the control loop nothing)."""
        wanted = self.bridge.wanted(ACTION_DISTRIBUTION_TOPIC)
        if wanted and self.distribution_sub is None:
            self.distribution_sub = self.create_subscription(String, ACTION_DISTRIBUTION_TOPIC,
                                                             self._on_distribution, SENSOR_QOS.profile())
        elif not wanted and self.distribution_sub is not None:
            self.destroy_subscription(self.distribution_sub)
            self.distribution_sub = None

    def _on_distribution(self, msg: String) -> None:
        t = time.time_ns()  # not JSON: a ValueError (JSONDecodeError), counted and logged by _guard
        self._guard(lambda: self.bridge.log_json(ACTION_DISTRIBUTION_TOPIC, json.loads(msg.data), t))

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        t = time.time_ns()
        for status in msg.status:
            node, values = status_node(status.name), diagnostic_values(status)
            if node == "safety" and "mode" in values:
                self.bridge.log_json(SAFETY_CHANNEL, safety_payload(values, status.message), t)
            elif node == "agent" and "tick_p99_ms" in values:
                payload = agent_payload(values, status.message, self.command_rate.rate(t * 1e-9))
                self.bridge.log_json(AGENT_CHANNEL, payload, t)
            elif node == "sim" and "stage" in values:
                self.bridge.log_json(EPISODE_CHANNEL, episode_payload(values, status.message), t)

    def _diagnose(self) -> None:
        values = {"url": f"ws://{self.config.host}:{self.bridge.port}", "port": self.bridge.port,
                  "errors": self.errors, **{f"sent{k}": v for k, v in self.bridge.counts.items()}}
        level = OK if self.errors == 0 else WARN
        status = diagnostic_status(self, "foxglove", level, f"serving ws://{self.config.host}:{self.bridge.port}",
                                   values)
        self.diag_pub.publish(diagnostic_array(self, [status]))

    def shutdown(self) -> None:
        self.bridge.close()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `foxglove_view` executable; SIGINT/SIGTERM stop the server and exit."""
    return run_node(FoxgloveNode, argv, on_exit=lambda node: node.shutdown())


if __name__ == "__main__":
    sys.exit(main())
