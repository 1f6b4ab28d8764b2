"""launch_pytest: `stacking.launch.py` starts safety + agent (and the sim), the launch activates the agent, torques
flow, and with `sim:=true` a SIGINT shutdown ends every process with exit code 0 within 5 s.

Runs where ROS 2's launch_pytest / launch_ros exist and gato_ros is installed in an ament prefix (colcon build;
`colcon test`, or pytest from the source tree or against the install with the workspace sourced); skipped in the
pip-only venv, where test_runner_graph.py and test_ros_graph_integration.py cover the same graph through `gato-ros run`.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

launch_pytest = pytest.importorskip("launch_pytest")
launch = pytest.importorskip("launch")
pytest.importorskip("launch_ros")

from launch.actions import IncludeLaunchDescription, RegisterEventHandler  # noqa: E402
from launch.event_handlers import OnProcessExit, OnProcessStart, OnShutdown  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402
from lifecycle_msgs.msg import State  # noqa: E402
from lifecycle_msgs.srv import GetState  # noqa: E402
from std_msgs.msg import Float64MultiArray  # noqa: E402

from gato_ros.interfaces import COMMAND_QOS  # noqa: E402

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


def _wait_active(monitor: GraphMonitor, timeout_s: float) -> None:
    """Poll the agent's lifecycle state until it is active, failing after timeout_s."""
    end = time.monotonic() + timeout_s
    state = None
    while time.monotonic() < end:
        state = _agent_state(monitor)
        if state == State.PRIMARY_STATE_ACTIVE:
            return
        time.sleep(0.5)
    assert state == State.PRIMARY_STATE_ACTIVE, f"agent lifecycle state {state}, expected active (3)"


@pytest.mark.launch(fixture=stacking)
def test_launch_activates_agent_and_safety_publishes() -> None:
    with GraphMonitor("launch_test") as monitor:
        received: list[float] = []
        monitor.node.create_subscription(Float64MultiArray, "/effort_controller/commands",
                                         lambda m: received.append(time.monotonic()), 10)
        _wait_active(monitor, 90.0)
        t0 = time.monotonic()
        time.sleep(2.0)
        rate = sum(t >= t0 for t in received) / 2.0
        assert rate > 50.0, f"safety published /effort_controller/commands at {rate:.0f} Hz"


# ----------------------------------------------------------------------------- sim:=true, SIGINT shutdown

SHUTDOWN_LIMIT_S = 5.0


@pytest.fixture
def lifecycle_record() -> dict:
    """What the launch reports about its processes: starts, exits (name, return code, time) and the shutdown time."""
    return {"started": [], "exits": [], "shutdown": []}


def _process_name(event) -> str:
    return str(getattr(event, "process_name", None) or event.action.name)


@launch_pytest.fixture
def stacking_sim(tiny_model: Path, ros_env: dict[str, str], lifecycle_record: dict):
    """`stacking.launch.py sim:=true` (sim + safety + agent on sim time) with a real (random tiny) model."""
    rec = lifecycle_record
    return launch.LaunchDescription([
        RegisterEventHandler(OnProcessStart(on_start=lambda ev, ctx: rec["started"].append(_process_name(ev)))),
        RegisterEventHandler(OnProcessExit(on_exit=lambda ev, ctx: rec["exits"].append(
            (_process_name(ev), ev.returncode, time.monotonic())))),
        RegisterEventHandler(OnShutdown(on_shutdown=lambda ev, ctx: rec["shutdown"].append(time.monotonic()))),
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(str(launch_dir() / "stacking.launch.py")),
            launch_arguments={"sim": "true", "model": str(tiny_model)}.items(),
        ),
        launch_pytest.actions.ReadyToTest(),
    ])


def _rate(stamps: list[float], since: float, until: float) -> float:
    return sum(since <= t < until for t in stamps) / (until - since)


@pytest.mark.slow
@pytest.mark.launch(fixture=stacking_sim)
def test_launch_sim_runs_and_sigint_stops_every_process_cleanly(lifecycle_record: dict):
    """Agent active, efforts at ~100 Hz from safety and ~20 Hz from the agent, then the launch's shutdown (SIGINT
    to every process) ends sim, safety and agent with exit code 0 within 5 s (with use_sim_time on)."""
    safety_out: list[float] = []
    agent_out: list[float] = []
    with GraphMonitor("launch_test_sim") as monitor:
        monitor.node.create_subscription(Float64MultiArray, "/effort_controller/commands",
                                         lambda m: safety_out.append(time.monotonic()), 10)
        monitor.node.create_subscription(Float64MultiArray, "/gato/effort_command",
                                         lambda m: agent_out.append(time.monotonic()), COMMAND_QOS.profile())
        _wait_active(monitor, 120.0)
        time.sleep(2.0)  # first observations and ticks
        t0 = time.monotonic()
        time.sleep(4.0)
        t1 = time.monotonic()
        safety_hz, agent_hz = _rate(safety_out, t0, t1), _rate(agent_out, t0, t1)
        print(f"safety /effort_controller/commands {safety_hz:.1f} Hz, agent /gato/effort_command {agent_hz:.1f} Hz")
        assert safety_hz > 70.0, f"safety published /effort_controller/commands at {safety_hz:.1f} Hz (expected ~100)"
        assert 10.0 < agent_hz < 25.0, f"agent published /gato/effort_command at {agent_hz:.1f} Hz (expected ~20)"
    yield
    # after the launch's shutdown: it sent SIGINT to each process and waited for them
    rec = lifecycle_record
    assert rec["shutdown"], "the launch did not shut down"
    names = sorted(rec["started"])
    assert len(names) == 3 and all(any(n in name for name in names) for n in ("sim", "safety", "agent")), names
    exits = {name: (code, t) for name, code, t in rec["exits"]}
    assert sorted(exits) == names, f"processes that never exited: {sorted(set(names) - set(exits))}"
    for name, (code, t) in exits.items():
        assert code == 0, f"{name} exited with {code} (SIGINT shutdown must exit 0, not be SIGTERMed/SIGKILLed)"
        took = t - rec["shutdown"][0]
        assert took < SHUTDOWN_LIMIT_S, f"{name} took {took:.2f} s to exit after SIGINT (limit {SHUTDOWN_LIMIT_S} s)"
