"""`gato-ros run stacking` (no sim) over real DDS: runner configures + activates the agent, torques flow through
the safety node, Ctrl-C (SIGINT to the runner) stops every node and the summary reports agent latency.

This process plays the robot driver (camera + joint states) so the test needs no simulator.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from rclpy.qos import qos_profile_sensor_data  # noqa: E402
from sensor_msgs.msg import Image, JointState  # noqa: E402
from std_msgs.msg import Float64MultiArray  # noqa: E402

from gato_ros.launch_runner.monitor import GraphMonitor  # noqa: E402
from helpers import CLI, JOINTS, children_of, alive, wait_for  # noqa: E402

pytestmark = pytest.mark.ros


def test_runner_brings_up_graph_and_sigint_leaves_nothing(tiny_model: Path, ros_env: dict[str, str],
                                                          tmp_path: Path) -> None:
    summary_path = tmp_path / "summary.json"
    runner = subprocess.Popen(
        [*CLI, "run", "stacking", "--sim", "false", "--model", str(tiny_model),
         "--duration", "0", "--log-dir", str(tmp_path / "logs"), "--summary-json", str(summary_path)],
        env=ros_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    nodes: list[int] = []
    try:
        with GraphMonitor("runner_test") as monitor:
            node = monitor.node
            image_pub = node.create_publisher(Image, "/camera/image_raw", qos_profile_sensor_data)
            state_pub = node.create_publisher(JointState, "/joint_states", 10)
            agent_cmds: list[float] = []
            safety_out: list[tuple[float, list[float]]] = []
            node.create_subscription(Float64MultiArray, "/gato/effort_command",
                                     lambda m: agent_cmds.append(time.monotonic()), 10)
            node.create_subscription(Float64MultiArray, "/effort_controller/commands",
                                     lambda m: safety_out.append((time.monotonic(), list(m.data))), 10)
            frame = np.random.default_rng(0).integers(0, 256, (64, 64, 3), np.uint8)
            stop = threading.Event()

            def driver() -> None:
                while not stop.is_set():
                    image_pub.publish(Image(height=64, width=64, encoding="rgb8", step=192, data=frame.tobytes()))
                    state_pub.publish(JointState(name=JOINTS, position=[0.0] * 8, velocity=[0.0] * 8,
                                                 effort=[0.0] * 8))
                    stop.wait(0.02)

            threading.Thread(target=driver, daemon=True).start()
            nodes = wait_for(lambda: children_of(runner.pid) if len(children_of(runner.pid)) == 2 else None,
                             20.0, "two node processes (safety, agent)")
            wait_for(lambda: monitor.latest("agent").get("_message") == "acting", 120.0, "agent acting")
            # not in sim the safety node holds until the operator enables it (safe start, docs/SAFETY.md)
            wait_for(lambda: monitor.latest("safety").get("mode") == "hold", 10.0, "safety holding (safe start)")
            ok, message = monitor.call_trigger("safety/reset", 10.0)
            assert ok and "safe-start" in message, message
            wait_for(lambda: monitor.latest("safety").get("mode") == "active", 10.0, "safety active")
            t0 = time.monotonic()
            time.sleep(2.0)
            agent_rate = sum(t >= t0 for t in agent_cmds) / 2.0
            safety_rate = sum(t >= t0 for t, _ in safety_out) / 2.0
            assert 14.0 <= agent_rate <= 22.0, f"agent at {agent_rate:.1f} Hz"
            assert safety_rate >= 60.0, f"safety at {safety_rate:.1f} Hz"
            assert all(np.all(np.isfinite(c)) and len(c) == 8 for t, c in safety_out if t >= t0)
            stop.set()
        runner.send_signal(signal.SIGINT)  # what a terminal's Ctrl-C does: the runner forwards it
        out, _ = runner.communicate(timeout=30)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
    assert runner.returncode == 0, out
    assert "agent step latency: p50" in out and "safety interventions:" in out, out
    for pid in nodes:
        assert not alive(pid), f"node process {pid} survived the runner"
    summary = json.loads(summary_path.read_text())
    assert summary["interrupted"] is True and set(summary["nodes"]) == {"safety", "agent"}
    assert all("SIGINT" in how for how in summary["exits"].values()), summary["exits"]
    assert float(summary["agent"]["tick_p50_ms"]) > 0 and summary["early_exits"] == {}
