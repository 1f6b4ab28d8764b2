"""Keyboard teleop on ROS topics: publishes the KeyTwistState as /teleop/twist and /teleop/gripper at a fixed
rate; clients for the sim's and teleop's ~/reset. `python -m gato_ros.nodes.keyboard` runs it alone.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import rclpy
from geometry_msgs.msg import Twist
from rclpy.clock import Clock, ClockType
from rclpy.executors import Executor, SingleThreadedExecutor
from rclpy.node import Node
from std_msgs.msg import Float64
from std_srvs.srv import Trigger

from gato_ros.interfaces import COMMAND_QOS, TELEOP_GRIPPER_TOPIC, TELEOP_TWIST_TOPIC
from gato_ros.teleop.keyboard import HELP, KeyboardConfig, KeyTwistState, TerminalKeys


class KeyboardTeleopNode(Node):
    """Publishes the keyboard's twist and gripper command; `publish_twist=False` publishes nothing."""

    def __init__(self, rate_hz: float = 20.0, config: KeyboardConfig | None = None, publish_twist: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(kwargs.pop("node_name", "keyboard_teleop"), **kwargs)
        self.keys = KeyTwistState(config)
        self.publish_twist = publish_twist
        self.twist_pub = self.create_publisher(Twist, TELEOP_TWIST_TOPIC, COMMAND_QOS.profile())
        self.grip_pub = self.create_publisher(Float64, TELEOP_GRIPPER_TOPIC, COMMAND_QOS.profile())
        self.sim_reset = self.create_client(Trigger, "/sim/reset")
        self.teleop_reset = self.create_client(Trigger, "/teleop/reset")
        self.create_timer(1.0 / rate_hz, self._publish, clock=Clock(clock_type=ClockType.STEADY_TIME))

    def _publish(self) -> None:
        if not self.publish_twist:
            return
        v = self.keys.twist(time.monotonic())
        msg = Twist()
        msg.linear.x, msg.linear.y, msg.linear.z = (float(x) for x in v[:3])
        msg.angular.x, msg.angular.y, msg.angular.z = (float(x) for x in v[3:])
        self.twist_pub.publish(msg)
        self.grip_pub.publish(Float64(data=float(self.keys.gripper)))

    def call(self, client: Any, executor: Executor | None = None, timeout: float = 5.0,
             discovery_s: float = 3.0) -> str:
        """Call a Trigger service and wait for the answer (spinning `executor`, or while another thread spins);
        a message saying what happened. Waits up to `discovery_s` for the server (DDS discovery can lag)."""
        if not client.wait_for_service(timeout_sec=discovery_s):
            return f"{client.srv_name} is not available"
        future = client.call_async(Trigger.Request())
        if executor is not None:
            executor.spin_until_future_complete(future, timeout_sec=timeout)
        deadline = time.monotonic() + timeout
        while not future.done() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not future.done():
            return f"{client.srv_name} did not answer within {timeout} s"
        return future.result().message


def main(argv: list[str] | None = None) -> int:
    """Keyboard teleop alone (drive the arm; record with any recorder)."""
    rclpy.init(args=argv if argv is not None else sys.argv)
    node = KeyboardTeleopNode()
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    print(HELP + "  x  reset the sim     esc  quit")
    try:
        with TerminalKeys() as term:
            while True:
                keys = term.read(0.01)
                if "esc" in keys:
                    break
                for key in keys:
                    if key == "x":
                        print(node.call(node.sim_reset, executor))
                    else:
                        node.keys.press(key, time.monotonic())
                executor.spin_once(timeout_sec=0.01)
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
