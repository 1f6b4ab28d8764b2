"""The foxglove node over real DDS: the sim (primitive cell) and the node as processes, a Foxglove WebSocket client
subscribed to every channel; and (slow) `gato-ros run stacking --sim true --foxglove true` with the agent."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

from foxglove_client import collect
from helpers import CLI, wait_for

pytestmark = pytest.mark.ros

URL = re.compile(r"Foxglove WebSocket server on (ws://127\.0\.0\.1:\d+)")


def _url(log: Path, proc: subprocess.Popen, timeout: float = 60.0) -> str:
    """The server URL the node logs once it listens (port 0: a free port chosen by the OS)."""
    def found() -> str | None:
        assert proc.poll() is None, log.read_text()
        match = URL.search(log.read_text() if log.exists() else "")
        return match.group(1) if match else None

    return wait_for(found, timeout, "the foxglove node's server URL", period=0.1)


def _stop(proc: subprocess.Popen) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            return proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()


def test_sim_and_foxglove_node_stream_to_a_client(ros_env, tmp_path):
    """Camera, joint states, arm frames, objects and the sim's episode reach the client at their rates; commands
    published on /gato/effort_command show up too."""
    import rclpy
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from std_msgs.msg import Float64MultiArray

    from gato_ros.interfaces import CAMERA_TOPIC, COMMAND_QOS, COMMAND_TOPIC, JOINT_STATES_TOPIC
    from gato_ros.liveview import EPISODE_CHANNEL, OBJECTS_CHANNEL, TF_CHANNEL

    logs = {name: tmp_path / f"{name}.log" for name in ("sim", "foxglove")}
    sim = subprocess.Popen([sys.executable, "-m", "gato_ros.nodes.sim", "--ros-args", "-p", "cell:=primitive",
                            "-p", "diagnostics_period_s:=0.25"],
                           env=ros_env, stdout=logs["sim"].open("w"), stderr=subprocess.STDOUT)
    view = subprocess.Popen([sys.executable, "-m", "gato_ros.nodes.foxglove_view", "--ros-args", "-r",
                             "__node:=foxglove", "-p", "port:=0"],
                            env=ros_env, stdout=logs["foxglove"].open("w"), stderr=subprocess.STDOUT)
    context = Context()
    rclpy.init(context=context)
    node = Node("foxglove_probe", context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    pub = node.create_publisher(Float64MultiArray, COMMAND_TOPIC, COMMAND_QOS.profile())
    node.create_timer(0.05, lambda: pub.publish(Float64MultiArray(data=[0.0] * 8)))
    stop = threading.Event()
    spinner = threading.Thread(target=lambda: [executor.spin_once(timeout_sec=0.05) for _ in iter(stop.is_set, True)],
                               daemon=True)
    spinner.start()
    try:
        url = _url(logs["foxglove"], view)
        wait_for(lambda: sim.poll() is None and collect(url, 1.0, settle_s=0.0).times.get(CAMERA_TOPIC), 60,
                 "sim images through the view")
        got = collect(url, seconds=4.0)
    finally:
        stop.set()
        spinner.join()
        executor.shutdown()
        node.destroy_node()
        rclpy.shutdown(context=context)
        codes = {"foxglove": _stop(view), "sim": _stop(sim)}
    out = {k: v.read_text()[-2000:] for k, v in logs.items()}
    assert codes == {"foxglove": 0, "sim": 0}, out
    rates = {t: round(got.rate(t), 1) for t in got.channels}
    assert got.channels[CAMERA_TOPIC]["schemaName"] == "foxglove.RawImage"
    assert rates[CAMERA_TOPIC] >= 8.0, rates  # the sim camera: 20 Hz
    assert rates[JOINT_STATES_TOPIC] >= 20.0 and rates[TF_CHANNEL] >= 20.0, rates  # 100 Hz in, capped at 50 Hz
    assert rates[OBJECTS_CHANNEL] >= 20.0 and rates[COMMAND_TOPIC] >= 8.0, rates  # commands: 20 Hz from the probe
    assert len(got.times[EPISODE_CHANNEL]) >= 4, rates  # sim diagnostics every 0.25 s
    episode = got.json(EPISODE_CHANNEL)
    assert episode["stage"] in ("none", "reached", "grasped", "lifted", "stacked") and episode["episode"] == 0
    joints = got.json(JOINT_STATES_TOPIC)
    assert len(joints["position"]) == len(joints["name"]) >= 8
    assert got.json(COMMAND_TOPIC)["effort"] == [0.0] * 8


@pytest.mark.slow
def test_run_with_foxglove_streams_the_agent_and_safety(tiny_model, ros_env, tmp_path):
    """`gato-ros run stacking --sim true --foxglove`: safety output, safety mode, agent latency and the agent's action
    distribution arrive."""
    from gato_ros.interfaces import ACTION_DISTRIBUTION_TOPIC, EFFORT_OUTPUT_TOPIC
    from gato_ros.liveview import AGENT_CHANNEL, SAFETY_CHANNEL
    from gato_ros.paths import config_dir

    folder = tmp_path / "config"
    shutil.copytree(config_dir(), folder)
    params = yaml.safe_load((folder / "foxglove.yaml").read_text())
    params["foxglove"]["ros__parameters"]["port"] = 0
    (folder / "foxglove.yaml").write_text(yaml.safe_dump(params))
    run = subprocess.Popen([*CLI, "run", "stacking", "--sim", "true", "--model", str(tiny_model), "--foxglove",
                            "--episodes", "0", "--duration", "0", "--config-dir", str(folder), "--log-dir",
                            str(tmp_path / "logs")], env=ros_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
    try:
        url = _url(tmp_path / "logs" / "foxglove.log", run, timeout=120)
        wait_for(lambda: collect(url, 1.5, settle_s=0.0).times.get(AGENT_CHANNEL), 120, "agent status in the view")
        got = collect(url, seconds=5.0)
    finally:
        run.send_signal(signal.SIGINT)
        out, _ = run.communicate(timeout=60)
    assert run.returncode == 0, out[-3000:]
    rates = {t: round(got.rate(t), 1) for t in got.channels}
    assert rates[EFFORT_OUTPUT_TOPIC] >= 20.0, rates  # safety at 100 Hz, capped at 50 Hz
    assert got.json(SAFETY_CHANNEL)["mode"] in ("active", "hold"), got.json(SAFETY_CHANNEL)
    agent = got.json(AGENT_CHANNEL)
    assert agent["p99_ms"] is not None and agent["p99_ms"] > 0 and agent["command_rate_hz"] > 5.0, agent
    assert json.loads(got.channels[AGENT_CHANNEL]["schema"])["title"] == "gato_ros.Agent"
    # the action distribution flows only while watched: the client subscribed, so the agent published it
    joints = got.json(ACTION_DISTRIBUTION_TOPIC)["joints"]
    assert len(joints) == 8 and abs(sum(joints[0]["prob"]) - 1.0) < 1e-3 and rates[ACTION_DISTRIBUTION_TOPIC] > 5.0
