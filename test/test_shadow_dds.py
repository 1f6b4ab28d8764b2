"""Shadow mode over real DDS: the sim (primitive cell) and the safety node (`shadow:=true`) as processes.

A publisher announced as the agent (/gato/commander) sends large torques: the simulated arm must not move while
/safety/shadow_output carries the filtered (rate-limited, clamped) commands; then a publisher announced as teleop
commands a small torque and the arm does move, so the stillness was the safety node's doing, not a dead sim. The
recorder (`record_outputs`, as shadow:=true record:=DIR sets it) records both outputs, and the bag is compared by
`gato-ros sim2real shadow`'s reader.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rclpy")

from helpers import wait_for  # noqa: E402

pytestmark = pytest.mark.ros

EFFORT = np.array([80, 80, 40, 40, 9, 9, 9, 1.0])  # the Sawyer's effort limits (urdf/sawyer_2f85.urdf)
STILL_RAD = 0.01  # how far an arm joint may drift while holding


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_shadow_mode_never_moves_the_simulated_arm(ros_env: dict[str, str], tmp_path: Path) -> None:
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Float64MultiArray
    from std_srvs.srv import Trigger

    from gato_ros.interfaces import (
        ANY_PUBLISHER_QOS, COMMAND_QOS, COMMAND_TOPIC, DIAGNOSTICS_QOS, DIAGNOSTICS_TOPIC, EFFORT_OUTPUT_TOPIC,
        JOINT_NAMES, JOINT_STATES_TOPIC, SHADOW_OUTPUT_QOS, SHADOW_OUTPUT_TOPIC,
    )
    from rclpy.parameter import Parameter

    from gato_ros.demos.bag import list_episodes
    from gato_ros.nodes.common import announce_commander, diagnostic_values
    from gato_ros.nodes.recorder import RecorderNode
    from gato_ros.paths import config_dir
    from gato_ros.sim2real.shadow import agreement, read_shadow_log

    logs = {name: tmp_path / f"{name}.log" for name in ("sim", "safety")}
    sim = subprocess.Popen([sys.executable, "-m", "gato_ros.nodes.sim", "--ros-args", "-r", "__node:=sim",
                            "--params-file", str(config_dir() / "sim.yaml"), "-p", "cell:=primitive"],
                           env=ros_env, stdout=logs["sim"].open("w"), stderr=subprocess.STDOUT)
    safety = subprocess.Popen([sys.executable, "-m", "gato_ros.nodes.safety", "--ros-args", "-r", "__node:=safety",
                               "--params-file", str(config_dir() / "safety.yaml"), "-p", "shadow:=true",
                               "-p", "diagnostics_period_s:=0.1"],
                              env=ros_env, stdout=logs["safety"].open("w"), stderr=subprocess.STDOUT)
    context = Context()
    rclpy.init(context=context)
    agent = Node("agent", context=context)  # announced as the agent: the role the real agent node announces
    teleop = Node("teleop", context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(agent)
    executor.add_node(teleop)
    recorder = RecorderNode(context=context, parameter_overrides=[
        Parameter("output_dir", value=str(tmp_path / "bags")), Parameter("record_outputs", value=True)])
    executor.add_node(recorder)
    lock = threading.Lock()
    states: list[tuple[float, np.ndarray]] = []
    arm_out: list[tuple[float, np.ndarray]] = []
    shadow_out: list[tuple[float, np.ndarray]] = []
    diag: dict[str, str] = {}

    def on_state(msg: JointState) -> None:
        index = {n: i for i, n in enumerate(msg.name)}
        if all(n in index for n in JOINT_NAMES[:7]):
            with lock:
                states.append((time.monotonic(), np.array([msg.position[index[n]] for n in JOINT_NAMES[:7]])))

    def on_diag(msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name.startswith("safety:"):
                with lock:
                    diag.update(diagnostic_values(status), _message=status.message)

    agent.create_subscription(JointState, JOINT_STATES_TOPIC, on_state, ANY_PUBLISHER_QOS.profile())
    agent.create_subscription(Float64MultiArray, EFFORT_OUTPUT_TOPIC,
                              lambda m: arm_out.append((time.monotonic(), np.array(m.data))), 50)
    agent.create_subscription(Float64MultiArray, SHADOW_OUTPUT_TOPIC,
                              lambda m: shadow_out.append((time.monotonic(), np.array(m.data))),
                              SHADOW_OUTPUT_QOS.profile())
    agent.create_subscription(DiagnosticArray, DIAGNOSTICS_TOPIC, on_diag, DIAGNOSTICS_QOS.profile())
    announcements = [announce_commander(agent, "agent", model="test"), announce_commander(teleop, "teleop")]
    agent_pub = agent.create_publisher(Float64MultiArray, COMMAND_TOPIC, COMMAND_QOS.profile())
    teleop_pub = teleop.create_publisher(Float64MultiArray, COMMAND_TOPIC, COMMAND_QOS.profile())
    big = 0.9 * EFFORT * np.array([1, -1, 1, -1, 1, -1, 1, 1])  # every joint pushed hard (gripper: close)
    sending = {"agent": False, "teleop": None}

    def send() -> None:
        if sending["agent"]:
            agent_pub.publish(Float64MultiArray(data=[float(x) for x in big]))
        if sending["teleop"] is not None:
            teleop_pub.publish(Float64MultiArray(data=[float(x) for x in sending["teleop"]]))

    agent.create_timer(0.05, send)  # 20 Hz, the agent's rate
    stop = threading.Event()
    spinner = threading.Thread(target=lambda: [executor.spin_once(timeout_sec=0.02) for _ in iter(stop.is_set, True)],
                               daemon=True)
    spinner.start()
    try:
        wait_for(lambda: sim.poll() is None and safety.poll() is None and len(states) > 20 and len(arm_out) > 20,
                 60.0, "sim joint states and safety output")
        assert "SHADOW MODE" in wait_for(lambda: diag.get("_message"), 10.0, "safety diagnostics")
        client = agent.create_client(Trigger, "/safety/reset")
        assert client.wait_for_service(timeout_sec=10.0)
        done = threading.Event()
        future = client.call_async(Trigger.Request())
        future.add_done_callback(lambda _: done.set())
        assert done.wait(10.0) and future.result().success  # armed, as an operator would: still no arm motion
        recorder.start()

        with lock:
            q0 = states[-1][1]
        sending["agent"] = True
        t0 = time.monotonic()
        wait_for(lambda: diag.get("shadow_mode") == "active" and int(diag.get("shadow_commands_agent", 0)) > 5, 5.0,
                 "the shadow filter passing the agent's commands")
        time.sleep(3.0)
        t1 = time.monotonic()
        with lock:
            moved = np.array([q - q0 for t, q in states if t0 <= t <= t1])
            shadow = np.array([e for t, e in shadow_out if t0 + 1.0 <= t <= t1])  # after the 800 Nm/s ramp
            arm = np.array([e for t, e in arm_out if t0 <= t <= t1])
            status = dict(diag)
        print(f"\nagent phase: {len(moved)} joint states, max |dq| {np.abs(moved).max():.2e} rad; "
              f"{len(shadow)} shadow outputs, last {np.round(shadow[-1], 2)}; arm max |effort| "
              f"{np.abs(arm[:, :7]).max():.3f} Nm")
        assert len(moved) > 200 and np.abs(moved).max() < STILL_RAD, "the arm moved in shadow mode"
        assert len(shadow) > 150
        np.testing.assert_allclose(shadow[-1], big, atol=1e-6)  # the filtered command: the agent's, within limits
        assert np.abs(arm[:, :7]).max() < 1.0  # the arm got hold torques (damping of a still arm), never the agent's
        assert status["mode"] == "hold" and "no command" in status["reason"]
        assert int(status.get("live_commands_teleop", 0)) == 0

        sending["teleop"] = np.array([6.0, 0, 0, 0, 0, 0, 0, 0])  # the operator: a small push on joint 0
        t2 = time.monotonic()
        wait_for(lambda: abs(states[-1][1][0] - q0[0]) > 0.05, 5.0, "the arm following the teleop command")
        print(f"teleop phase: joint 0 moved 0.05 rad {time.monotonic() - t2:.2f} s after the first teleop command")
        assert int(diag.get("live_commands_teleop", 0)) > 0
        recorder.stop()
        (bag,) = list_episodes(tmp_path / "bags")
        result = agreement(read_shadow_log(bag), JOINT_NAMES, EFFORT)
        j1 = result["joints"][1]
        print(f"recorded: {result['samples']} paired samples; right_j1 shadow rms {j1['shadow_rms_limit']:.2f}, "
              f"arm rms "
              f"{j1['arm_rms_limit']:.4f} (x effort limit), mean |diff| {j1['mae_limit']:.2f}")
        assert result["samples"] > 300 and result["unpaired_shadow_samples"] < 0.05 * result["samples"]
        assert j1["shadow_rms_limit"] > 0.5 and j1["arm_rms_limit"] < 0.01  # the agent pushed, the arm held
    finally:
        stop.set()
        spinner.join(timeout=2.0)
        del announcements
        recorder.shutdown()
        context.shutdown()
        for proc in (safety, sim):
            _stop(proc)
    assert safety.returncode == 0, logs["safety"].read_text()[-3000:]
