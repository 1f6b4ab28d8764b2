"""launch_pytest: `stacking.launch.py` starts safety + agent, the launch activates the agent, torques flow.

Runs where ROS 2's launch_pytest / launch_ros exist and gato_ros is installed in an ament prefix (colcon build);
skipped in the pip-only venv, where test_runner_graph.py and test_ros_graph_integration.py cover the same graph through `gato-ros run`.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

launch_pytest = pytest.importorskip("launch_pytest")
launch = pytest.importorskip("launch")
pytest.importorskip("launch_ros")
for _module in ("gato_ros.config", "gato_ros.tokenizer", "gato_ros.observation", "gato_ros.model", "gato_ros.runtime"):
    pytest.importorskip(_module, reason="needs config, tokenizer, observation (2), model (3), runtime (4)")

from launch.actions import IncludeLaunchDescription  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402
from lifecycle_msgs.msg import State  # noqa: E402
from lifecycle_msgs.srv import GetState  # noqa: E402
from std_msgs.msg import Float64MultiArray  # noqa: E402

from gato_ros.launch_runner.monitor import GraphMonitor  # noqa: E402
from gato_ros.paths import launch_dir  # noqa: E402

pytestmark = [pytest.mark.launch_test, pytest.mark.ros]


@launch_pytest.fixture
def stacking(tiny_model: Path, ros_env: dict[str, str]):
    """The real launch file with a real (random tiny) model, no sim: a driver would own the robot topics."""
    return launch.LaunchDescription([
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(str(launch_dir() / "stacking.launch.py")),
            launch_arguments={"sim": "false", "model": str(tiny_model)}.items(),
        ),
        launch_pytest.actions.ReadyToTest(),
    ])


def _agent_state(monitor: GraphMonitor) -> int | None:
    client = monitor.node.create_client(GetState, "/agent/get_state")
    try:
        if not client.wait_for_service(timeout_sec=1.0):
            return None
        future = client.call_async(GetState.Request())
        done = threading.Event()
        future.add_done_callback(lambda _: done.set())
        done.wait(2.0)
        return future.result().current_state.id if future.done() else None
    finally:
        monitor.node.destroy_client(client)


@pytest.mark.launch(fixture=stacking)
def test_launch_activates_agent_and_safety_publishes() -> None:
    with GraphMonitor("launch_test") as monitor:
        received: list[float] = []
        monitor.node.create_subscription(Float64MultiArray, "/effort_controller/commands",
                                         lambda m: received.append(time.monotonic()), 10)
        end = time.monotonic() + 90.0
        state = None
        while time.monotonic() < end:
            state = _agent_state(monitor)
            if state == State.PRIMARY_STATE_ACTIVE:
                break
            time.sleep(0.5)
        assert state == State.PRIMARY_STATE_ACTIVE, f"agent lifecycle state {state}, expected active (3)"
        t0 = time.monotonic()
        time.sleep(2.0)
        rate = sum(t >= t0 for t in received) / 2.0
        assert rate > 50.0, f"safety published /effort_controller/commands at {rate:.0f} Hz"
