"""safety node: the only publisher of /effort_controller/commands; a thin rclpy adapter over SafetyFilter.

Timers and timeouts run on the steady clock, never on /clock: a paused simulator or a dead clock publisher
must not stop the safety node from publishing hold torques.
"""

from __future__ import annotations

import sys
import time
import traceback
from typing import Any

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, Float64MultiArray
from std_srvs.srv import Trigger

from gato_ros.nodes.common import (
    ANY_PUBLISHER_QOS,
    run_node,
    DIAGNOSTICS_QOS,
    ERROR,
    OK,
    WARN,
    declare_dataclass_parameters,
    diagnostic_array,
    diagnostic_status,
)
from gato_ros.safety import Mode, SafetyConfig, SafetyFilter
from gato_ros.safety.joints import JointStateError, JointStateMerger

#: ros2_control's JointGroupEffortController subscribes with the system-default (reliable) QoS.
OUTPUT_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE)
ESTOP_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE)

COMMAND_TOPIC = "/gato/effort_command"
OUTPUT_TOPIC = "/effort_controller/commands"
STATE_TOPIC = "/joint_states"
ESTOP_TOPIC = "/gato/estop"


def load_robot(config: SafetyConfig) -> Any:
    """The RobotModel from `robot_description` text, else `urdf_path`, else the package URDF."""
    from gato_ros.robot import RobotModel, default_urdf_path

    if config.robot_description.strip():
        return RobotModel.from_urdf(config.robot_description)
    return RobotModel.from_file(config.urdf_path or default_urdf_path())


class SafetyNode(Node):
    """Feeds commands, joint states and e-stops into SafetyFilter and publishes its output at a fixed rate."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("safety", **kwargs)
        self.config = declare_dataclass_parameters(self, SafetyConfig)
        self.filter = SafetyFilter(load_robot(self.config), self.config)
        self.merger = JointStateMerger(self.config.joint_names)
        self.n = len(self.config.joint_names)
        self._unknown_names: set[str] = set()
        self._ticks = 0
        self._ticks_at_diag = 0
        self._diag_t = time.monotonic()
        self._max_gap = 0.0
        self._last_tick: float | None = None
        self._last_output = np.zeros(self.n)
        steady = Clock(clock_type=ClockType.STEADY_TIME)
        self.pub = self.create_publisher(Float64MultiArray, OUTPUT_TOPIC, OUTPUT_QOS)
        self.diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", DIAGNOSTICS_QOS)
        self.create_subscription(Float64MultiArray, COMMAND_TOPIC, self._on_command, ANY_PUBLISHER_QOS)
        self.create_subscription(JointState, STATE_TOPIC, self._on_joint_state, ANY_PUBLISHER_QOS)
        self.create_subscription(Bool, ESTOP_TOPIC, self._on_estop, ESTOP_QOS)
        self.create_service(Trigger, "~/reset", self._on_reset)
        self.create_timer(1.0 / self.config.publish_rate_hz, self._tick, clock=steady)
        self.create_timer(self.config.diagnostics_period_s, self._diagnose, clock=steady)
        self.get_logger().info(
            f"safety: publishing {OUTPUT_TOPIC} at {self.config.publish_rate_hz} Hz for {list(self.config.joint_names)}"
        )

    # ------------------------------------------------------------------ callbacks

    def _guard(self, what: str, fn: Any, *args: Any) -> Any:
        """Run a callback body; any exception becomes a fault (hold), never a dead node."""
        try:
            return fn(*args)
        except Exception as exc:  # noqa: BLE001 - by design: every internal error -> hold
            self.filter.fault(f"{what}: {type(exc).__name__}: {exc}", time.monotonic())
            self.get_logger().error(f"fault in {what}, holding: {traceback.format_exc(limit=3)}")
            return None

    def _on_command(self, msg: Float64MultiArray) -> None:
        self._guard("command", self.filter.command, msg.data, time.monotonic())

    def _on_joint_state(self, msg: JointState) -> None:
        self._guard("joint_state", self._joint_state, msg)

    def _joint_state(self, msg: JointState) -> None:
        t = time.monotonic()
        try:
            result = self.merger.update(msg.name, msg.position, msg.velocity, t)
        except JointStateError as exc:
            self.filter.note("bad_joint_state", str(exc))
            return
        if result.unknown:
            new = set(result.unknown) - self._unknown_names
            if new:  # report each unknown name once, count every message carrying some
                self._unknown_names |= new
                self.get_logger().warning(f"/joint_states has joints not in joint_names (ignored): {sorted(new)}")
            self.filter.note("unknown_joint_names", f"ignored {list(result.unknown)}")
        if result.complete:
            self.filter.joint_state(self.merger.q, self.merger.qd, self.merger.oldest())

    def _on_estop(self, msg: Bool) -> None:
        if msg.data:
            self.filter.estop("e-stop on /gato/estop")
            self.get_logger().error("E-STOP latched; call ~/reset to clear")

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        response.message = self.filter.reset()
        response.success = True
        self.get_logger().info(f"reset: {response.message}")
        return response

    def _tick(self) -> None:
        """Publish once per period whatever happens: the filter's output, else the last safe vector held."""
        now = time.monotonic()
        if self._last_tick is not None:
            self._max_gap = max(self._max_gap, now - self._last_tick)
        self._last_tick = now
        result = self._guard("output", self.filter.output, now)
        if result is not None:
            efforts = result[0]
        else:  # the filter itself failed: zero arm torques (the arm's own gravity compensation holds it)
            efforts = np.where(self.filter.limits.arm, 0.0, self._last_output)
        efforts = np.where(np.isfinite(efforts), efforts, 0.0)
        self._last_output = efforts
        self.pub.publish(Float64MultiArray(data=[float(x) for x in efforts]))
        self._ticks += 1

    def _diagnose(self) -> None:
        now = time.monotonic()
        rate = (self._ticks - self._ticks_at_diag) / max(now - self._diag_t, 1e-9)
        self._ticks_at_diag, self._diag_t = self._ticks, now
        status = self.filter.status()
        mode = self.filter.mode
        level = OK if mode is Mode.ACTIVE else (ERROR if mode in (Mode.ESTOP, Mode.FAULT) else WARN)
        values = {
            **status,
            "publish_rate_hz": rate,
            "max_period_s": self._max_gap,
            "missing_joints": list(self.merger.missing()),
            "stale_joints": list(self.merger.stale(now, self.config.state_timeout_s)),
            "unknown_joint_names": sorted(self._unknown_names),
            "last_output": [float(x) for x in self._last_output],
        }
        self._max_gap = 0.0
        message = f"{mode.value}: {status['last_reason']}"
        self.diag_pub.publish(diagnostic_array(self, [diagnostic_status(self, "safety", level, message, values)]))


    def publish_final_hold(self) -> None:
        """On shutdown: leave zero arm torques (the gripper's last command) in the controller, not the last effort.

        ros2_control's effort controller keeps applying its last command when its publisher goes away.
        """
        final = np.where(self.filter.limits.arm, 0.0, self._last_output)
        final = np.where(np.isfinite(final), final, 0.0)
        for _ in range(3):
            self.pub.publish(Float64MultiArray(data=[float(x) for x in final]))
        self.get_logger().info("safety: shutting down; published zero arm torques")


def _final_hold(node: "SafetyNode") -> None:
    if rclpy.ok():
        node.publish_final_hold()
        time.sleep(0.05)  # let DDS deliver it before the participant goes away


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `safety` executable; SIGINT/SIGTERM leave zero arm torques behind."""
    return run_node(SafetyNode, argv, on_exit=_final_hold)


if __name__ == "__main__":
    sys.exit(main())
