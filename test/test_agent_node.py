"""The agent lifecycle node over real DDS with a random tiny model: acts on image arrival at ~20 Hz (a 30 Hz camera
decimated), stamps each command with its image's stamp, refuses stale or bad input.

One agent process (python -m gato_ros.nodes.agent) serves the whole module; this process publishes camera images
and joint states and reads /gato/effort_command and /diagnostics.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from lifecycle_msgs.msg import Transition  # noqa: E402
from rclpy.qos import qos_profile_sensor_data  # noqa: E402
from sensor_msgs.msg import Image, JointState  # noqa: E402
from std_msgs.msg import Float64MultiArray  # noqa: E402

from gato_ros.interfaces import command_stamp_ns, stamp_ns  # noqa: E402
from gato_ros.launch_runner.monitor import GraphMonitor  # noqa: E402
from gato_ros.launch_runner.processes import ProcessSet  # noqa: E402
from helpers import JOINTS, wait_for  # noqa: E402

pytestmark = pytest.mark.ros


class Harness:
    """Publishes camera + joint states at 30 Hz from a thread; records effort commands with arrival times."""

    def __init__(self, monitor: GraphMonitor) -> None:
        node = monitor.node
        self.monitor = monitor
        self.image_pub = node.create_publisher(Image, "/camera/image_raw", qos_profile_sensor_data)
        self.state_pub = node.create_publisher(JointState, "/joint_states", 10)
        self.commands: list[tuple[float, list[float]]] = []
        self.command_stamps: list[int | None] = []  # the stamp each command carries, in arrival order
        self.image_stamps: dict[int, float] = {}  # stamp (ns) of each image published -> when
        self._lock = threading.Lock()
        node.create_subscription(Float64MultiArray, "/gato/effort_command", self._on_cmd, 10)
        self.send_image = self.send_state = True
        self.image = self.good_image()
        self.names = list(JOINTS)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    @staticmethod
    def good_image() -> Image:
        """A 96x128 bgr8 frame: the agent must convert it and resize it to the model's size."""
        rng = np.random.default_rng(1)
        data = rng.integers(0, 256, size=(96, 128, 3), dtype=np.uint8)
        return Image(height=96, width=128, encoding="bgr8", step=128 * 3, data=data.tobytes())

    def _on_cmd(self, msg: Float64MultiArray) -> None:
        with self._lock:
            self.commands.append((time.monotonic(), list(msg.data)))
            self.command_stamps.append(command_stamp_ns(msg))

    def publish_image(self) -> int:
        """Publish the current image stamped now; returns its stamp (ns)."""
        self.image.header.stamp = self.monitor.node.get_clock().now().to_msg()
        with self._lock:
            self.image_stamps[stamp_ns(self.image.header.stamp)] = time.monotonic()
        self.image_pub.publish(self.image)
        return stamp_ns(self.image.header.stamp)

    def stamps_since(self, t: float) -> list[int | None]:
        with self._lock:
            return [s for (tc, _), s in zip(self.commands, self.command_stamps) if tc >= t]

    def commands_since(self, t: float) -> list[list[float]]:
        with self._lock:
            return [c for (tc, c) in self.commands if tc >= t]

    def _loop(self) -> None:
        k = 0
        while not self._stop.is_set():
            if self.send_image:
                self.publish_image()
            if self.send_state:
                q = 0.1 * np.sin(0.05 * k + np.arange(len(self.names)))
                self.state_pub.publish(JointState(name=self.names, position=q.tolist(),
                                                  velocity=(0.1 * q).tolist(), effort=[0.0] * len(self.names)))
            k += 1
            self._stop.wait(1 / 30)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)


@pytest.fixture(scope="module")
def prompt_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 5-step demonstration bag (what `gato-ros record` and `demos generate` write): the agent's prompt."""
    from gato_ros.demos.bag import write_episode
    from gato_ros.episode import Episode

    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("demos") / "prompt"
    write_episode(path, Episode(rng.integers(0, 255, (5, 64, 64, 3), dtype=np.uint8), rng.normal(size=(5, 8)),
                                rng.normal(size=(5, 8)), rng.normal(size=(5, 8)),
                                instruction="stack the red object on the blue object", success=True))
    return path


@pytest.fixture(scope="module")
def agent(tiny_model: Path, prompt_demo: Path, tmp_path_factory: pytest.TempPathFactory, ros_domain_id: int):
    """An active agent process (prompted with a recorded demo) and the test harness around it."""
    import os

    env = dict(os.environ, ROS_DOMAIN_ID=str(ros_domain_id), ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST",
               PYTHONUNBUFFERED="1")
    old = {k: os.environ.get(k) for k in ("ROS_DOMAIN_ID", "ROS_AUTOMATIC_DISCOVERY_RANGE")}
    os.environ.update({k: env[k] for k in old})
    procs = ProcessSet(tmp_path_factory.mktemp("logs"))
    child = procs.start("agent", [sys.executable, "-m", "gato_ros.nodes.agent", "--ros-args",
                                  "-p", f"model_dir:={tiny_model}", "-p", "execution_provider:=cpu",
                                  "-p", f"prompt_demo:={prompt_demo}",
                                  "-p", "diagnostics_period_s:=0.2", "-p", "image_timeout_s:=0.3"], env)
    try:
        with GraphMonitor("agent_test") as monitor:
            harness = Harness(monitor)
            try:
                monitor.bring_up("agent", 120.0, threading.Event(), lambda: None)
                yield child, monitor, harness
            finally:
                harness.close()
    finally:
        procs.stop_all(5.0, 2.0)
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _wait_diag(monitor: GraphMonitor, pred, timeout: float = 5.0) -> dict[str, str]:
    end = time.monotonic() + timeout
    values: dict[str, str] = {}
    while time.monotonic() < end:
        values = monitor.latest("agent")
        if values and pred(values):
            return values
        time.sleep(0.05)
    raise AssertionError(f"agent diagnostics never matched; last: {values}")


def test_acts_at_control_rate_with_finite_efforts(agent) -> None:
    child, monitor, harness = agent
    _wait_diag(monitor, lambda v: v["_message"] == "acting", 20.0)
    t0 = time.monotonic()
    time.sleep(3.0)
    cmds = harness.commands_since(t0)
    rate = len(cmds) / 3.0
    assert 15.0 <= rate <= 22.0, f"agent published at {rate:.1f} Hz, expected ~20"
    arr = np.asarray(cmds)
    assert arr.shape[1] == 8 and np.all(np.isfinite(arr))
    stamps = harness.stamps_since(t0)  # each command answers one published frame, in order, each at most once
    assert all(s in harness.image_stamps for s in stamps) and stamps == sorted(set(stamps)), stamps[:5]
    values = _wait_diag(monitor, lambda v: v["_message"] == "acting")
    assert values["provider"] and values["model"] and float(values["tick_p50_ms"]) > 0
    # the prompt demo (17 instruction tokens + 5 timesteps of 40) stays pinned in the context
    assert int(values["context_tokens"]) >= 17 + 5 * 40 and 0 < float(values["context_fill"]) <= 1
    assert values["attention_timesteps"] == "0" and int(values["reprefills"]) >= 0  # a full-attention model
    assert values["_level"] == "0"


def test_stale_image_publishes_nothing_and_says_why(agent) -> None:
    child, monitor, harness = agent
    harness.send_image = False
    try:
        values = _wait_diag(monitor, lambda v: "image stale" in v["_message"], 5.0)
        assert values["_level"] == "1"
        t = time.monotonic()
        time.sleep(1.0)
        assert harness.commands_since(t) == []
    finally:
        harness.send_image = True
    _wait_diag(monitor, lambda v: v["_message"] == "acting", 5.0)


def test_one_image_triggers_one_command_stamped_with_that_image(agent) -> None:
    child, monitor, harness = agent
    harness.send_image = False
    try:
        time.sleep(0.2)  # the camera is silent: no step starts (the joint states keep flowing)
        t = time.monotonic()
        time.sleep(0.2)
        assert harness.commands_since(t) == []
        t = time.monotonic()
        stamp = harness.publish_image()
        wait_for(lambda: harness.stamps_since(t), 5.0, "a command after the single image")
        time.sleep(0.3)
        assert harness.stamps_since(t) == [stamp]
    finally:
        harness.send_image = True
    values = _wait_diag(monitor, lambda v: v["_message"] == "acting", 5.0)
    assert values["trigger"] == "image" and int(values["image_to_command_count"]) > 0
    assert 0 < float(values["image_to_command_p50_ms"]) < 1000


def test_unknown_joint_names_give_an_error_diagnostic_not_a_crash(agent) -> None:
    child, monitor, harness = agent
    harness.names = ["shoulder", "elbow"] + JOINTS[2:]
    try:
        values = _wait_diag(monitor, lambda v: "bad joint state" in v["_message"], 5.0)
        assert "right_j0" in values["_message"] and values["_level"] == "2"
        t = time.monotonic()
        time.sleep(0.5)
        assert harness.commands_since(t) == [] and child.running()
    finally:
        harness.names = list(JOINTS)
    _wait_diag(monitor, lambda v: v["_message"] == "acting", 5.0)


@pytest.mark.parametrize("encoding,nbytes", [("mono8", 96 * 128), ("rgb8", 100)])
def test_malformed_image_gives_an_error_diagnostic_not_a_crash(agent, encoding: str, nbytes: int) -> None:
    child, monitor, harness = agent
    harness.image = Image(height=96, width=128, encoding=encoding, step=128 * 3, data=bytes(nbytes))
    try:
        values = _wait_diag(monitor, lambda v: v["_message"].startswith("bad image"), 5.0)
        assert values["_level"] == "2"
        t = time.monotonic()
        time.sleep(0.5)
        assert harness.commands_since(t) == [] and child.running()
    finally:
        harness.image = harness.good_image()
    _wait_diag(monitor, lambda v: v["_message"] == "acting", 5.0)


def test_reset_service_starts_a_new_episode(agent) -> None:
    child, monitor, harness = agent
    before = int(monitor.latest("agent")["episodes"])
    ok, message = monitor.call_trigger("agent/reset", 5.0)
    assert ok, message
    _wait_diag(monitor, lambda v: int(v["episodes"]) == before + 1, 3.0)


def test_deactivate_stops_commands(agent) -> None:
    child, monitor, harness = agent
    assert monitor.change_state("agent", Transition.TRANSITION_DEACTIVATE, 5.0)
    t = time.monotonic()
    time.sleep(0.5)
    assert harness.commands_since(t) == []
    assert monitor.change_state("agent", Transition.TRANSITION_ACTIVATE, 5.0)
    _wait_diag(monitor, lambda v: v["_message"] == "acting", 5.0)
