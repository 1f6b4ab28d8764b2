"""launch_pytest: `stacking.launch.py` starts safety + agent (and the sim), the launch activates the agent, torques
flow, and with `sim:=true` a SIGINT shutdown ends every process with exit code 0 within 5 s.

Runs where ROS 2's launch_pytest / launch_ros exist and gato_ros is installed in an ament prefix (colcon build;
`colcon test`, or pytest from the source tree or against the install with the workspace sourced); skipped in the
pip-only venv, where test_runner_graph.py and test_ros_graph_integration.py cover the same graph through `gato-ros run`.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import numpy as np
import pytest

launch_pytest = pytest.importorskip("launch_pytest")
launch = pytest.importorskip("launch")
pytest.importorskip("launch_ros")

from launch.actions import IncludeLaunchDescription, RegisterEventHandler  # noqa: E402
from launch.event_handlers import OnProcessExit, OnProcessIO, OnProcessStart, OnShutdown  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402
from lifecycle_msgs.msg import State  # noqa: E402
from lifecycle_msgs.srv import GetState  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402
from std_msgs.msg import Float64MultiArray  # noqa: E402

from gato_ros.interfaces import (  # noqa: E402
    COMMAND_QOS, COMMAND_TOPIC, EFFORT_OUTPUT_TOPIC, JOINT_STATES_TOPIC, OUTPUT_QOS, SHADOW_OUTPUT_QOS,
    SHADOW_OUTPUT_TOPIC, STATE_QOS,
)

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


@pytest.mark.parametrize("arguments, message", [
    ({"shadow": "yes"}, "launch argument shadow='yes' must be true or false"),
    ({"sim": "true", "robot": "ur5e"}, "launch argument robot='ur5e': not in the robot registry"),
    ({"shadwo": "true"}, "unknown launch arguments 'shadwo' (did you mean 'shadow'?)"),
])
def test_launch_refuses_bad_arguments_before_starting_anything(arguments: dict, message: str,
                                                                ros_env: dict[str, str]) -> None:
    """The launch file checks the arguments as `gato-ros run` does (graph.GraphSpec.check) before its first node:
    launch's own booleans would take shadow:=yes, an unknown robot would fail only at the node reading it (after the
    sim had started, left running), and a misspelled shadow:=true would be ignored (the agent on the live arm)."""
    started: list[str] = []
    service = launch.LaunchService()
    service.include_launch_description(launch.LaunchDescription([
        RegisterEventHandler(OnProcessStart(on_start=lambda ev, ctx: started.append(_process_name(ev)))),
        IncludeLaunchDescription(PythonLaunchDescriptionSource(str(launch_dir() / "stacking.launch.py")),
                                 launch_arguments=arguments.items()),
    ]))
    errors: list[str] = []  # what the launch service logs (its screen handler's stream is not this test's)
    handler = logging.Handler(logging.ERROR)
    handler.emit = lambda record: errors.append(record.getMessage())
    logging.getLogger("launch").addHandler(handler)
    stop = threading.Timer(30.0, service.shutdown)  # a launch that took the arguments would run on: end it
    stop.start()
    try:
        code = service.run()
    finally:
        stop.cancel()
        logging.getLogger("launch").removeHandler(handler)
    assert not started, f"processes started despite {arguments}: {started}"
    assert code == 1
    assert any(message in e for e in errors), errors


# ----------------------------------------------------------------------------- sim:=true, SIGINT shutdown

SHUTDOWN_LIMIT_S = 5.0


@pytest.fixture
def lifecycle_record() -> dict:
    """What the launch reports about its processes: starts, exits (name, return code, time), the shutdown time and
    the text they print."""
    return {"started": [], "exits": [], "shutdown": [], "output": []}


def _process_name(event) -> str:
    return str(getattr(event, "process_name", None) or event.action.name)


def _stacking_sim_launch(tiny_model: Path, rec: dict, **arguments: str) -> "launch.LaunchDescription":
    """`stacking.launch.py sim:=true` plus `arguments`, with a real (random tiny) model; the launch's process
    starts, exits, shutdown and every line the processes print go to `rec` (see lifecycle_record)."""
    return launch.LaunchDescription([
        RegisterEventHandler(OnProcessStart(on_start=lambda ev, ctx: rec["started"].append(_process_name(ev)))),
        RegisterEventHandler(OnProcessExit(on_exit=lambda ev, ctx: rec["exits"].append(
            (_process_name(ev), ev.returncode, time.monotonic())))),
        RegisterEventHandler(OnShutdown(on_shutdown=lambda ev, ctx: rec["shutdown"].append(time.monotonic()))),
        RegisterEventHandler(OnProcessIO(on_stdout=lambda ev: rec["output"].append(ev.text.decode(errors="replace")),
                                         on_stderr=lambda ev: rec["output"].append(ev.text.decode(errors="replace")))),
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(str(launch_dir() / "stacking.launch.py")),
            launch_arguments={"sim": "true", "model": str(tiny_model), **arguments}.items(),
        ),
        launch_pytest.actions.ReadyToTest(),
    ])


@launch_pytest.fixture
def stacking_sim(tiny_model: Path, ros_env: dict[str, str], lifecycle_record: dict):
    """`stacking.launch.py sim:=true` (sim + safety + agent on sim time) with a real (random tiny) model."""
    return _stacking_sim_launch(tiny_model, lifecycle_record)


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


# ----------------------------------------------------------------------------- shadow:=true (issue 17), robot:=panda

STILL_RAD = 0.01  # how far an arm joint may drift while the safety node holds it
HOLD_NM = 0.05  # the hold of a still arm (velocity damping of ~zero velocity) stays below this on every arm joint


class _Streams:
    """Arm output, shadow output, agent commands and joint states received by a GraphMonitor's node."""

    def __init__(self, monitor: GraphMonitor) -> None:
        self.rows: dict[str, list[tuple[float, list[float]]]] = {"arm": [], "shadow": [], "agent": []}
        self.joints: list[tuple[float, list[str], list[float]]] = []
        for key, topic, qos in (("arm", EFFORT_OUTPUT_TOPIC, OUTPUT_QOS), ("shadow", SHADOW_OUTPUT_TOPIC,
                                SHADOW_OUTPUT_QOS), ("agent", COMMAND_TOPIC, COMMAND_QOS)):
            monitor.node.create_subscription(Float64MultiArray, topic, lambda m, k=key: self.rows[k].append(
                (time.monotonic(), list(m.data))), qos.profile())
        monitor.node.create_subscription(JointState, JOINT_STATES_TOPIC, lambda m: self.joints.append(
            (time.monotonic(), list(m.name), list(m.position))), STATE_QOS.profile())

    def window(self, key: str, t0: float, t1: float) -> np.ndarray:
        return np.array([row for t, row in self.rows[key] if t0 <= t < t1]).reshape(-1, 8)

    def arm_drift(self, t0: float, t1: float) -> float:
        q = np.array([pos[:7] for t, _, pos in self.joints if t0 <= t < t1])
        assert len(q) > 10, f"{len(q)} joint states in {t1 - t0:.1f} s"
        return float(np.abs(q - q[0]).max())


def _arm_and_watch(monitor: GraphMonitor, streams: _Streams, seconds: float) -> tuple[float, float]:
    """Clear the safety node's safe-start hold (as an operator would), then watch for `seconds`: (t0, t1)."""
    ok, message = monitor.call_trigger("safety/reset", timeout_s=10.0)
    assert ok, f"/safety/reset failed: {message}"
    time.sleep(1.0)
    t0 = time.monotonic()
    time.sleep(seconds)
    return t0, time.monotonic()


@launch_pytest.fixture
def stacking_shadow(tiny_model: Path, ros_env: dict[str, str], lifecycle_record: dict):
    return _stacking_sim_launch(tiny_model, lifecycle_record, shadow="true")


@pytest.mark.slow
@pytest.mark.launch(fixture=stacking_shadow)
def test_launch_shadow_sends_the_agent_to_shadow_output_and_holds_the_arm(lifecycle_record: dict):
    """`shadow:=true sim:=true`: the agent is activated and commands at ~20 Hz; /safety/shadow_output carries its
    (filtered) commands at ~100 Hz while /effort_controller/commands holds and the simulated arm stays still."""
    with GraphMonitor("launch_test_shadow") as monitor:
        streams = _Streams(monitor)
        _wait_active(monitor, 120.0)
        t0, t1 = _arm_and_watch(monitor, streams, 3.0)
        safety = monitor.latest("safety")
    arm, shadow, agent = (streams.window(k, t0, t1) for k in ("arm", "shadow", "agent"))
    counts = f"arm {len(arm)}, shadow {len(shadow)}, agent {len(agent)} messages in {t1 - t0:.1f} s"
    assert len(shadow) / (t1 - t0) > 70.0 and len(arm) / (t1 - t0) > 70.0, counts
    assert 10.0 < len(agent) / (t1 - t0) < 25.0, counts
    print(f"{counts}; max |shadow arm| {np.abs(shadow[:, :7]).max():.3f} Nm, "
          f"max |arm| {np.abs(arm[:, :7]).max():.4f} Nm")
    assert np.abs(shadow[:, :7]).max() > 1e-3, "the shadow output never carried an agent command"
    assert np.abs(arm[:, :7]).max() < HOLD_NM, "the arm's output followed the agent in shadow mode"
    assert streams.arm_drift(t0, t1) < STILL_RAD
    assert safety.get("shadow_mode") == "active" and int(safety.get("shadow_commands_agent", "0")) > 0, safety
    assert not any(k.startswith("live_commands_") for k in safety), f"a command reached the arm: {safety}"


@launch_pytest.fixture
def stacking_shadow_teleop(tiny_model: Path, ros_env: dict[str, str], lifecycle_record: dict):
    return _stacking_sim_launch(tiny_model, lifecycle_record, shadow="true", teleop="true")


@pytest.mark.slow
@pytest.mark.launch(fixture=stacking_shadow_teleop)
def test_launch_shadow_with_teleop_still_starts_the_agent(lifecycle_record: dict):
    """`shadow:=true teleop:=true`: teleop owns the arm and the agent still starts; its commands reach only
    /safety/shadow_output."""
    with GraphMonitor("launch_test_shadow_teleop") as monitor:
        streams = _Streams(monitor)
        _wait_active(monitor, 120.0)
        t0, t1 = _arm_and_watch(monitor, streams, 2.0)
        safety = monitor.latest("safety")
    assert any("teleop" in name for name in lifecycle_record["started"]), lifecycle_record["started"]
    shadow = streams.window("shadow", t0, t1)
    assert len(shadow) and np.abs(shadow[:, :7]).max() > 1e-3, f"{len(shadow)} shadow outputs, none non-zero"
    assert int(safety.get("shadow_commands_agent", "0")) > 0 and int(safety.get("live_commands_teleop", "0")) > 0, \
        safety
    assert "live_commands_agent" not in safety, safety


@launch_pytest.fixture
def stacking_panda(tiny_model: Path, ros_env: dict[str, str], lifecycle_record: dict):
    return _stacking_sim_launch(tiny_model, lifecycle_record, robot="panda")


@pytest.mark.slow
@pytest.mark.launch(fixture=stacking_panda)
def test_launch_panda_refuses_a_sawyer_model_and_holds(lifecycle_record: dict):
    """`robot:=panda` with a Sawyer model (the shipped one is): the Panda sim and safety (Panda joint names) run, the
    agent fails configure with a clear error and stays unconfigured, and the arm holds."""
    from gato_ros.robot.registry import load_robot

    panda = list(load_robot("panda").joint_names)
    with GraphMonitor("launch_test_panda") as monitor:
        streams = _Streams(monitor)
        wait_end = time.monotonic() + 120.0
        while time.monotonic() < wait_end and "trained for robot" not in "".join(lifecycle_record["output"]):
            time.sleep(0.5)
        t0, t1 = _arm_and_watch(monitor, streams, 2.0)
        state = _agent_state(monitor)
    text = "".join(lifecycle_record["output"])
    assert "the model was trained for robot 'sawyer'" in text and "drives 'panda'" in text, text[-2000:]
    assert state == State.PRIMARY_STATE_UNCONFIGURED, f"agent lifecycle state {state}"
    assert streams.joints and streams.joints[-1][1] == panda, streams.joints[-1][1] if streams.joints else None
    arm = streams.window("arm", t0, t1)
    assert len(arm) / (t1 - t0) > 70.0 and np.abs(arm[:, :7]).max() < HOLD_NM
    assert not streams.window("agent", t0, t1).size
    assert streams.arm_drift(t0, t1) < STILL_RAD
