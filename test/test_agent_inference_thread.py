"""A slow policy step does not hold up the agent's other callbacks, and steps asked for while one runs are skipped
and counted (real DDS, the real node and model; the policy's `act` is slowed by 0.4 s after the real one).

The agent node runs in this process (so its policy can be slowed), spun like `run_node` spins it, in a context of
its own; a second context here plays camera, joint states and the operator over DDS.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")

from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from rclpy.context import Context  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.lifecycle import TransitionCallbackReturn  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from sensor_msgs.msg import Image, JointState  # noqa: E402
from std_msgs.msg import Float64MultiArray  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from gato_ros.interfaces import (  # noqa: E402
    CAMERA_TOPIC, COMMAND_TOPIC, DIAGNOSTICS_TOPIC, JOINT_NAMES, JOINT_STATES_TOPIC, SENSOR_QOS, command_stamp_ns,
    stamp_ns,
)
from gato_ros.nodes.common import diagnostic_values  # noqa: E402
from helpers import spin_in_background, wait_for  # noqa: E402

pytestmark = pytest.mark.ros
SLOW_S = 0.4


class Spun:
    """A node in a context of its own, spun on a thread."""

    def __init__(self, make: Any) -> None:
        self.context = Context()
        rclpy.init(context=self.context)
        self.node = make(self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.thread = spin_in_background(self.context, self.executor)


    def close(self) -> None:
        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)
        self.thread.join(timeout=2.0)


@pytest.fixture
def slow_agent(tiny_model: Path, ros_env: dict[str, str]) -> Iterator[tuple[Any, Any]]:
    from gato_ros.nodes.agent import AgentNode

    params = [Parameter("model_dir", value=str(tiny_model)), Parameter("execution_provider", value="cpu"),
              Parameter("diagnostics_period_s", value=0.1)]
    # a name of its own: the other agent tests start a process named `agent` in the same ROS domain
    agent = Spun(lambda ctx: AgentNode(context=ctx, parameter_overrides=params,
                                       cli_args=["--ros-args", "-r", "__node:=slow_agent"]))
    world = Spun(lambda ctx: rclpy.create_node("world", context=ctx))
    try:
        node = agent.node
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        real_act = node._policy.act

        def slow_act(*args: Any, **kwargs: Any) -> Any:
            out = real_act(*args, **kwargs)
            time.sleep(SLOW_S)
            return out

        node._policy.act = slow_act
        assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
        yield node, world.node
        node.trigger_deactivate()
        node.trigger_cleanup()  # stops the inference thread
    finally:
        world.close()
        agent.close()


def test_slow_step_blocks_no_callback_and_overruns_are_counted(slow_agent: tuple[Any, Any]) -> None:
    agent, world = slow_agent
    lock = threading.Lock()
    commands: list[tuple[float, int | None]] = []
    diagnostics: list[tuple[float, dict[str, str]]] = []
    images: set[int] = set()

    def on_command(msg: Float64MultiArray) -> None:
        with lock:
            commands.append((time.monotonic(), command_stamp_ns(msg)))

    def on_diag(msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name.startswith("slow_agent"):
                with lock:
                    diagnostics.append((time.monotonic(), {"_message": status.message, **diagnostic_values(status)}))

    world.create_subscription(Float64MultiArray, COMMAND_TOPIC, on_command, 10)
    world.create_subscription(DiagnosticArray, DIAGNOSTICS_TOPIC, on_diag, 10)
    image_pub = world.create_publisher(Image, CAMERA_TOPIC, SENSOR_QOS.profile())
    state_pub = world.create_publisher(JointState, JOINT_STATES_TOPIC, 10)
    image = Image(height=64, width=64, encoding="rgb8", step=64 * 3, data=bytes(64 * 64 * 3))

    def publish() -> None:  # a 20 Hz camera and 100 Hz joint states
        k = 0
        while not stop.is_set():
            if k % 5 == 0:
                image.header.stamp = world.get_clock().now().to_msg()
                with lock:
                    images.add(stamp_ns(image.header.stamp))
                image_pub.publish(image)
            state_pub.publish(JointState(name=list(JOINT_NAMES), position=[0.0] * 8, velocity=[0.0] * 8))
            k += 1
            stop.wait(0.01)

    stop = threading.Event()
    feeder = threading.Thread(target=publish, daemon=True)
    feeder.start()
    client = world.create_client(Trigger, "/slow_agent/reset")
    try:
        wait_for(lambda: len(commands) >= 2, 20.0, "commands from the slowed agent")
        t0 = time.monotonic()
        answer_s = []
        for _ in range(3):  # the executor answers at once although a step is (almost always) running
            assert client.wait_for_service(timeout_sec=5.0)
            start = time.monotonic()
            future = client.call_async(Trigger.Request())
            wait_for(future.done, 5.0, "the ~/reset answer")
            answer_s.append(time.monotonic() - start)
            assert future.result().success
            time.sleep(0.3)
        time.sleep(1.0)
        with lock:
            window = [t for t, _ in diagnostics if t >= t0]
            stamps = [s for _, s in commands]
            last = diagnostics[-1][1]
            n_images = len(images)
        assert max(answer_s) < SLOW_S / 2, f"~/reset answered in {answer_s} s: held up by the policy step"
        gaps = np.diff(window)  # diagnostics every 0.1 s, not in bursts one step apart
        assert len(window) >= 15 and gaps.max() < SLOW_S * 0.75, f"diagnostics gaps {gaps}"
        assert all(s in images for s in stamps)  # every command answers a published frame
        assert int(last["overruns"]) >= 5 and int(last["overruns"]) + int(last["published"]) <= n_images
        assert int(last["tick_deadline_misses"]) >= 1 and float(last["tick_p50_ms"]) > SLOW_S * 1e3
    finally:
        stop.set()
        feeder.join(2.0)
