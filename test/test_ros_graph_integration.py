"""The full stacking graph through `gato-ros run stacking --sim true` over real DDS (slow: MuJoCo + model).

sim + safety + agent (random tiny model): torques flow at the configured rates, the agent's tick latency with the
sim running is measured, killing the agent process makes the safety node hold within command_timeout_s,
Ctrl-C leaves no process behind, and sim episodes are driven (sim ~/reset, agent ~/reset) and summarised.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from sensor_msgs.msg import JointState  # noqa: E402
from std_msgs.msg import Float64MultiArray  # noqa: E402

from gato_ros.launch_runner.monitor import GraphMonitor  # noqa: E402
from gato_ros.paths import config_dir  # noqa: E402
from helpers import CLI, alive, wait_for  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]


@pytest.fixture
def fast_diag_config(tmp_path: Path) -> Path:
    """The package parameter files, with safety diagnostics at 20 Hz so the hold can be timed to 50 ms."""
    folder = tmp_path / "config"
    shutil.copytree(config_dir(), folder)
    safety = yaml.safe_load((folder / "safety.yaml").read_text())
    safety["safety"]["ros__parameters"]["diagnostics_period_s"] = 0.05
    (folder / "safety.yaml").write_text(yaml.safe_dump(safety))
    return folder


def node_pids(runner_pid: int) -> dict[str, int]:
    """Node name -> pid of the runner's children, from their command lines."""
    out: dict[str, int] = {}
    for task in Path(f"/proc/{runner_pid}/task").glob("*"):
        try:
            pids = [int(x) for x in (task / "children").read_text().split()]
        except FileNotFoundError:
            continue
        for pid in pids:
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except FileNotFoundError:
                continue
            for part in cmd:
                if part.startswith(b"gato_ros.nodes."):
                    out[part.decode().rsplit(".", 1)[1]] = pid
    return out


def start_runner(tiny_model: Path, config: Path, tmp_path: Path, env: dict[str, str], *extra: str):
    return subprocess.Popen(
        [*CLI, "run", "stacking", "--sim", "true", "--model", str(tiny_model),
         "--config-dir", str(config), "--log-dir", str(tmp_path / "logs"),
         "--summary-json", str(tmp_path / "summary.json"), *extra],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_graph_runs_kill_agent_holds_sigint_cleans_up(tiny_model: Path, fast_diag_config: Path,
                                                      ros_env: dict[str, str], tmp_path: Path) -> None:
    command_timeout = yaml.safe_load((fast_diag_config / "safety.yaml").read_text())[
        "safety"]["ros__parameters"]["command_timeout_s"]
    runner = start_runner(tiny_model, fast_diag_config, tmp_path, ros_env, "--episodes", "0", "--duration", "0")
    pids: dict[str, int] = {}
    try:
        with GraphMonitor("graph_test") as monitor:
            node = monitor.node
            agent_t: list[float] = []
            safety_t: list[float] = []
            states: list[tuple[float, np.ndarray]] = []
            node.create_subscription(Float64MultiArray, "/gato/effort_command",
                                     lambda m: agent_t.append(time.monotonic()), 10)
            node.create_subscription(Float64MultiArray, "/effort_controller/commands",
                                     lambda m: safety_t.append(time.monotonic()), 10)
            node.create_subscription(JointState, "/joint_states",
                                     lambda m: states.append((time.monotonic(), np.asarray(m.position))), 10)
            pids = wait_for(lambda: p if len(p := node_pids(runner.pid)) == 3 else None, 30.0, "3 nodes")
            assert set(pids) == {"sim", "safety", "agent"}
            wait_for(lambda: monitor.latest("agent").get("_message") == "acting", 180.0, "agent acting")
            wait_for(lambda: monitor.latest("safety").get("mode") == "active", 10.0, "safety active")
            t0 = time.monotonic()
            time.sleep(5.0)
            window = 5.0
            agent_rate = sum(t >= t0 for t in agent_t) / window
            safety_rate = sum(t >= t0 for t in safety_t) / window
            moved = [q for t, q in states if t >= t0]
            diag = monitor.latest("agent")
            print(f"\nagent {agent_rate:.1f} Hz, safety {safety_rate:.1f} Hz, tick p50 {diag['tick_p50_ms']} ms, "
                  f"p99 {diag['tick_p99_ms']} ms, misses {diag['tick_deadline_misses']}/{diag['tick_ticks']}, "
                  f"provider {diag['provider']}")
            assert 14.0 <= agent_rate <= 22.0 and safety_rate >= 60.0
            assert len(moved) > 50 and np.ptp(np.asarray(moved)[:, :7], axis=0).max() > 0  # the arm responds

            os.kill(pids["agent"], signal.SIGKILL)
            t_kill = time.monotonic()
            wait_for(lambda: monitor.latest("safety").get("mode") == "hold"
                     and "command" in monitor.latest("safety").get("last_reason", ""), 5.0, "safety hold")
            reaction = time.monotonic() - t_kill
            print(f"safety hold {reaction * 1e3:.0f} ms after the agent was killed (command_timeout_s "
                  f"{command_timeout}; diagnostics every 50 ms)")
            assert reaction <= command_timeout + 0.15
            t1 = time.monotonic()
            time.sleep(0.5)
            assert sum(t >= t1 for t in safety_t) > 30  # still publishing hold torques
        runner.send_signal(signal.SIGINT)
        out, _ = runner.communicate(timeout=40)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
    assert runner.returncode == 0, out
    for name, pid in pids.items():
        assert not alive(pid), f"{name} ({pid}) survived"
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["early_exits"] == {"agent": -9}
    assert summary["safety_interventions"] is not None and summary["safety_interventions"] >= 1


def test_runner_drives_sim_episodes(tiny_model: Path, ros_env: dict[str, str], tmp_path: Path) -> None:
    runner = start_runner(tiny_model, config_dir(), tmp_path, ros_env, "--episodes", "2", "--duration", "4")
    out, _ = runner.communicate(timeout=240)
    assert runner.returncode == 0, out
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert len(summary["episodes"]) == 2 and not summary["interrupted"]
    assert all(3.5 <= e["duration_s"] <= 8.0 or e["success"] for e in summary["episodes"])
    assert int(summary["agent"]["episodes"]) == 2  # the runner reset the agent's cache at each episode
    assert "episodes: 2, success:" in out and "agent step latency: p50" in out
    assert set(summary["exits"]) == {"sim", "safety", "agent"}
