"""The recorder node over real DDS: services, Ctrl-C and SIGKILL mid-episode leave readable bags, marks;
and (slow) a scripted Twist sequence through teleop -> safety -> sim recorded as an episode."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rclpy")

import rclpy  # noqa: E402
from geometry_msgs.msg import Twist  # noqa: E402
from rclpy.context import Context  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import Image, JointState  # noqa: E402
from std_msgs.msg import Float64, Float64MultiArray, String  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from gato_ros.interfaces import COMMANDER_QOS, COMMANDER_TOPIC, JOINT_NAMES  # noqa: E402
from gato_ros.demos.bag import custom_data, list_episodes, read_episode, read_outcome  # noqa: E402
from gato_ros.recorder import (  # noqa: E402
    CommandAttribution, Commander, CommanderError, SimEpisode, decide_outcome, episode_dir, gid_key,
    parse_sim_diagnostics, publisher_nodes, read_announcement,
)

pytestmark = pytest.mark.ros
RELIABLE = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE)


def test_outcome_rules_and_names(tmp_path):
    assert decide_outcome(True, SimEpisode(3, False)) == {"success": True, "marked_by": "operator"}
    assert decide_outcome(None, SimEpisode(3, True))["success"] is True
    assert decide_outcome(None, None) is None
    assert parse_sim_diagnostics({"episode": "2", "success": "True", "stage": "stacked"}) == SimEpisode(2, True)
    assert parse_sim_diagnostics({"recording": "True"}) is None
    a = episode_dir(tmp_path, "episode", 0, now=0)
    a.mkdir()
    assert episode_dir(tmp_path, "episode", 0, now=0) != a


def test_commander_labels():
    """Commands are labelled by the announced role of the node that published them; the agent's model is kept."""
    agent = Commander("/agent", "agent", {"model": "/m/tiny", "prompt_demo": "/d/ep1", "instruction": ""})
    teleop = Commander.from_json(Commander("/teleop", "teleop").to_json())
    assert teleop == Commander("/teleop", "teleop") and Commander.from_json(agent.to_json()) == agent
    nodes = {b"a": "/agent", b"t": "/teleop", b"x": "/some_script"}
    announced = {"/agent": agent, "/teleop": teleop}
    a = CommandAttribution()
    assert a.label(nodes, announced) == ("none", {"commanders": "[]"})
    assert a.add(b"a") and not a.add(b"a")
    source, meta = a.label(nodes, announced)
    assert source == "agent" and meta["model"] == "/m/tiny" and meta["prompt_demo"] == "/d/ep1"
    assert json.loads(meta["commanders"])[0]["commands"] == 2
    a.add(b"t")
    assert a.label(nodes, announced)[0] == "mixed" and "model" not in a.label(nodes, announced)[1]
    assert a.label(nodes, announced, declared="teleop")[0] == "teleop"  # forced, the commanders stay listed
    b = CommandAttribution()
    b.add(b"x")
    b.add(b"gone")  # a publisher the graph never showed
    assert b.label(nodes, announced)[0] == "unknown"
    assert {r["node"] for r in json.loads(b.label(nodes, announced)[1]["commanders"])} == {"/some_script", "?"}
    assert gid_key({"data": b"\x01\x02"}) == gid_key([1, 2]) == b"\x01\x02"
    for bad in ("nope", "[]", '{"node": "/a", "source": "pilot"}', '{"source": "agent"}'):
        with pytest.raises(CommanderError):
            Commander.from_json(bad)
        warnings: list[str] = []
        assert read_announcement(bad, warnings.append) is None and warnings[0].startswith("ignored an announcement")
    assert read_announcement('{"node": "/a", "source": "agent"}', print) == Commander("/a", "agent")
    info = types.SimpleNamespace(endpoint_gid=[1, 2], node_namespace="/", node_name="agent")
    assert publisher_nodes([info]) == {b"\x01\x02": "/agent"}


class Probe:
    """Test-side node: a fake robot (images, joint states), a command source, twist source, service calls.

    `announce`: the probe announces itself on /gato/commander as a commander of this role (None: it does not)."""

    def __init__(self, fake_robot: bool, announce: str | None = "teleop", name: str = "recorder_probe") -> None:
        self.context = Context()
        rclpy.init(context=self.context)
        self.node = Node(name, context=self.context)
        if announce is not None:
            self.announcer = self.node.create_publisher(String, COMMANDER_TOPIC, COMMANDER_QOS.profile())
            self.announcer.publish(String(data=Commander(f"/{name}", announce, {"model": "/models/probe"}).to_json()))
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.step = 0
        self.twist = np.zeros(6)
        self.twist_pub = self.node.create_publisher(Twist, "/teleop/twist", RELIABLE)
        self.grip_pub = self.node.create_publisher(Float64, "/teleop/gripper", RELIABLE)
        if fake_robot:
            self.img_pub = self.node.create_publisher(Image, "/camera/image_raw", RELIABLE)
            self.js_pub = self.node.create_publisher(JointState, "/joint_states", RELIABLE)
            self.cmd_pub = self.node.create_publisher(Float64MultiArray, "/gato/effort_command", RELIABLE)
            self.node.create_timer(0.01, self._joint_state)
            self.node.create_timer(0.05, self._image_and_command)
        else:
            self.node.create_timer(0.05, self._twist)
        self.twists_seen: list[np.ndarray] = []
        self.node.create_subscription(Twist, "/teleop/twist", lambda m: self.twists_seen.append(
            np.array([m.linear.x, m.linear.y, m.linear.z])), RELIABLE)
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._spin, daemon=True)
        self.thread.start()

    def _spin(self) -> None:
        while not self.stop_event.is_set():
            self.executor.spin_once(timeout_sec=0.01)

    def _joint_state(self) -> None:
        msg = JointState(name=list(JOINT_NAMES), position=[float(self.step)] * 8, velocity=[0.0] * 8)
        self.js_pub.publish(msg)

    def _image_and_command(self) -> None:
        self.step += 1
        img = Image(height=16, width=16, encoding="rgb8", step=48, data=bytes([self.step % 256]) * (16 * 48))
        self.img_pub.publish(img)
        self.cmd_pub.publish(Float64MultiArray(data=[float(self.step)] * 8))

    def _twist(self) -> None:
        msg = Twist()
        msg.linear.x, msg.linear.y, msg.linear.z = (float(v) for v in self.twist[:3])
        self.twist_pub.publish(msg)

    def wait_matched(self, timeout: float = 30.0) -> None:
        """Until a subscriber (the recorder) has matched the fake robot's publishers (discovery under load)."""
        deadline = time.monotonic() + timeout
        pubs = (self.img_pub, self.js_pub, self.cmd_pub)
        while min(p.get_subscription_count() for p in pubs) < 1:
            assert time.monotonic() < deadline, "the recorder never subscribed"
            time.sleep(0.05)
        time.sleep(0.2)

    def call(self, service: str, timeout: float = 20.0) -> Trigger.Response:
        client = self.node.create_client(Trigger, service)
        assert client.wait_for_service(timeout_sec=timeout), f"{service} did not appear"
        future = client.call_async(Trigger.Request())
        deadline = time.monotonic() + timeout
        while not future.done() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert future.done(), f"{service} did not answer"
        return future.result()

    def close(self) -> None:
        self.stop_event.set()
        self.thread.join()
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)


def node_process(module: str, name: str, params: dict[str, object], env: dict[str, str], log: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", f"gato_ros.nodes.{module}", "--ros-args", "-r", f"__node:={name}"]
    for k, v in params.items():
        cmd += ["-p", f"{k}:={json.dumps(v) if not isinstance(v, str) else v}"]
    return subprocess.Popen(cmd, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)


def stop_process(proc: subprocess.Popen, sig: int = signal.SIGINT) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            return proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()


def test_services_mark_and_ctrl_c_leave_complete_bags(ros_env, tmp_path):
    out = tmp_path / "demos"
    params = {"output_dir": str(out), "auto_start": False, "instruction": "put red on blue"}
    rec = node_process("recorder", "recorder", params, ros_env, tmp_path / "rec.log")
    probe = Probe(fake_robot=True, announce="agent")
    try:
        probe.wait_matched()
        assert probe.call("/recorder/start").success
        time.sleep(1.0)
        assert probe.call("/recorder/mark_success").success
        stopped = probe.call("/recorder/stop")
        assert stopped.success, stopped.message
        assert not probe.call("/recorder/stop").success  # not recording: a clear refusal
        first = list_episodes(out)
        assert len(first) == 1
        ep = read_episode(first[0])
        assert 15 <= len(ep) <= 80 and ep.success is True and ep.instruction == "put red on blue"
        meta = custom_data(first[0])  # labelled by the probe's announcement, found through its publisher GID
        assert ep.source == "agent" and meta["model"] == "/models/probe", meta
        assert [r["node"] for r in json.loads(meta["commanders"])] == ["/recorder_probe"]
        # each step pairs a command with the observation at or before it (fake robot: same counter)
        assert np.all(ep.actions[:, 0] - ep.images[:, 0, 0, 0] <= 1)

        assert probe.call("/recorder/start").success  # second episode, then Ctrl-C mid-episode
        time.sleep(1.0)
        assert stop_process(rec) == 0
        second = [p for p in list_episodes(out) if p not in first]
        assert len(second) == 1 and (second[0] / "metadata.yaml").is_file()
        assert len(read_episode(second[0])) >= 10 and read_outcome(second[0]) == {}
    finally:
        probe.close()
        stop_process(rec)


def test_sigkill_mid_episode_leaves_a_readable_bag(ros_env, tmp_path):
    out = tmp_path / "demos"
    params = {"output_dir": str(out), "auto_start": False, "flush_period_s": 0.2}
    rec = node_process("recorder", "recorder", params, ros_env, tmp_path / "rec.log")
    probe = Probe(fake_robot=True, announce=None)
    try:
        probe.wait_matched()
        assert probe.call("/recorder/start").success
        time.sleep(2.0)
        rec.send_signal(signal.SIGKILL)
        rec.wait()
    finally:
        probe.close()
        stop_process(rec)
    [bag] = list_episodes(out)
    assert not (bag / "metadata.yaml").exists()  # the writer never finished
    ep = read_episode(bag)  # recovered: everything up to the last flush (0.2 s)
    assert len(ep) >= 25, len(ep)
    assert np.all(np.diff(ep.actions[:, 0]) > 0) and ep.success is None
    assert ep.source == "unknown"  # no announcement; the label written at a flush survived the SIGKILL
    from rosbags.rosbag2 import Reader

    with Reader(bag) as reader:  # rewritten as a complete bag that rosbags (and ros2 bag info) read
        counts = {c.topic: c.msgcount for c in reader.connections}
    assert counts["/gato/instruction"] == 1 and counts["/gato/effort_command"] >= len(ep)


@pytest.mark.slow
def test_scripted_twists_through_teleop_are_recorded(ros_env, tmp_path):
    """sim + safety + teleop + recorder processes; +z twists raise the recorded pinch point."""
    from rosbags.rosbag2 import Reader

    from gato_ros.robot import RobotModel, default_urdf_path

    out = tmp_path / "demos"
    procs = [
        node_process("sim", "sim", {"real_time_factor": 1.0, "seed": 3}, ros_env, tmp_path / "sim.log"),
        node_process("safety", "safety", {}, ros_env, tmp_path / "safety.log"),
        node_process("teleop", "teleop", {}, ros_env, tmp_path / "teleop.log"),
        node_process("recorder", "recorder", {"output_dir": str(out), "auto_start": False}, ros_env,
                     tmp_path / "rec.log"),
    ]
    probe = Probe(fake_robot=False, announce=None)
    try:
        probe.call("/sim/reset", timeout=60)
        probe.call("/teleop/reset", timeout=30)
        assert probe.call("/safety/reset", timeout=30).success  # safe start: safety holds until enabled
        time.sleep(2.0)  # teleop holds, safety passes commands through
        assert probe.call("/recorder/start").success
        time.sleep(0.5)
        probe.twist = np.array([0.0, 0.0, 0.08, 0, 0, 0])
        time.sleep(2.0)
        probe.twist = np.zeros(6)
        time.sleep(0.5)
        assert probe.call("/recorder/stop").success
    finally:
        probe.close()
        for p in procs:
            stop_process(p)
    logs = {p.name: p.read_text()[-2000:] for p in tmp_path.glob("*.log")}
    [bag] = list_episodes(out)
    with Reader(bag) as reader:
        counts = {c.topic: c.msgcount for c in reader.connections}
    assert counts["/gato/instruction"] == 1 and counts["/gato/outcome"] == 1, counts
    assert 40 <= counts["/gato/effort_command"] <= 75, (counts, logs)  # 3 s at 20 Hz
    assert counts["/camera/image_raw"] >= 30 and counts["/joint_states"] >= 150, counts
    ep = read_episode(bag)
    assert len(ep) == counts["/gato/effort_command"] and ep.images.shape[1:] == (64, 64, 3)
    assert ep.success is False and ep.source == "teleop"
    robot = RobotModel.from_file(default_urdf_path())
    z = np.array([robot.fk(q[:7])[2, 3] for q in ep.joint_positions])
    assert z[-1] - z[0] > 0.08, z  # 2 s at 0.08 m/s


def _wait_for(path: Path, text: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        content = path.read_text() if path.exists() else ""
        if text in content:
            return content
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not in output:\n{path.read_text() if path.exists() else ''}")


def test_record_cli_keys_in_a_terminal(ros_env, tmp_path):
    """`gato-ros record` on a pseudo-terminal: enter starts, w drives forward, enter stops, y marks, esc quits."""
    import pty

    out = tmp_path / "demos"
    log = tmp_path / "record.log"
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "gato_ros.cli", "record", "--out", str(out), "--no-sim-reset"],
                            env=ros_env, stdin=slave, stdout=log.open("w"), stderr=subprocess.STDOUT)
    probe = Probe(fake_robot=True)
    try:
        _wait_for(log, "press enter to start")
        probe.wait_matched()
        os.write(master, b"\n")
        _wait_for(log, "(enter: stop)")
        for _ in range(10):
            os.write(master, b"w")
            time.sleep(0.1)
        time.sleep(0.3)
        os.write(master, b"\r")
        _wait_for(log, "saved")
        os.write(master, b"y")
        _wait_for(log, "marked success=True")
        os.write(master, b"\x1b")
        assert proc.wait(timeout=20) == 0
    finally:
        probe.close()
        stop_process(proc)
        os.close(master)
        os.close(slave)
    [bag] = list_episodes(out)
    ep = read_episode(bag)
    assert ep.success is True and ep.source == "teleop" and len(ep) >= 20, len(ep)  # ~1.3 s at 20 Hz
    assert read_outcome(bag)["marked_by"] == "operator"
    vx = [t[0] for t in probe.twists_seen]
    assert max(vx) == pytest.approx(0.08) and vx[-1] == 0.0  # keys drove +x, then released


def test_auto_start_follows_sim_episodes_and_takes_their_outcome(ros_env, tmp_path):
    """auto_start (the launch's record:=DIR): a new bag per sim episode, closed with the sim's success."""
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
    from rclpy.parameter import Parameter

    from gato_ros.nodes.recorder import RecorderNode

    def diag(episode: int, success: bool) -> DiagnosticArray:
        values = {"episode": str(episode), "success": str(success), "stage": "none", "success_ever": str(success)}
        return DiagnosticArray(status=[DiagnosticStatus(name="sim: episode", values=[
            KeyValue(key=k, value=v) for k, v in values.items()])])

    context = Context()
    rclpy.init(context=context)
    node = RecorderNode(context=context, parameter_overrides=[
        Parameter("output_dir", value=str(tmp_path)), Parameter("auto_start", value=True)])
    try:
        assert node.recording
        node._on_diagnostics(diag(0, False))
        node._on_diagnostics(diag(0, True))
        node._on_diagnostics(diag(0, False))  # knocked over later: the episode still succeeded
        node._on_diagnostics(diag(1, False))  # the sim reset
        assert node.recording and len(list_episodes(tmp_path)) == 2
        node.shutdown()
        first, second = list_episodes(tmp_path)
        assert read_outcome(first) == {"success": True, "marked_by": "sim", "sim_episode": 0, "steps": 0}
        assert read_outcome(second)["success"] is False and read_outcome(second)["sim_episode"] == 1
    finally:
        node.destroy_node()
        rclpy.shutdown(context=context)


def test_recorder_records_object_poses(ros_env, tmp_path):
    """/sim/object_poses (PoseArray from the sim node) lands in the bag and reads back as Episode.object_state."""
    from rclpy.parameter import Parameter

    from gato_ros.nodes.recorder import RecorderNode
    from gato_ros.nodes.sim import pose_array
    from gato_ros.interfaces import OBJECT_COLORS
    from gato_ros.observation import object_state_from_poses

    rng = np.random.default_rng(0)
    rows = [object_state_from_poses({c: (rng.normal(size=3), rng.normal(size=4)) for c in OBJECT_COLORS})
            for _ in range(3)]
    context = Context()
    rclpy.init(context=context)
    node = RecorderNode(context=context, parameter_overrides=[
        Parameter("output_dir", value=str(tmp_path)), Parameter("auto_start", value=True)])
    try:
        img = Image(height=4, width=4, encoding="rgb8", step=12, data=bytes(48))
        js = JointState(name=list(JOINT_NAMES), position=[0.0] * 8, velocity=[0.0] * 8)
        for row in rows:
            node._on_image(img)
            node._on_joint_state(js)
            node._on_object_poses(pose_array(row, rclpy.clock.Clock().now().to_msg()))
            node._on_command(Float64MultiArray(data=[1.0] * 8))
            time.sleep(0.002)  # receipt times order the messages
        node.shutdown()
        (bag,) = list_episodes(tmp_path)
        ep = read_episode(bag)
        assert len(ep) == 3 and np.allclose(ep.object_state, np.stack(rows)) and node.counts["object_poses"] == 3
    finally:
        node.destroy_node()
        rclpy.shutdown(context=context)


def test_recorder_starts_each_episode_with_the_latched_extents(ros_env, tmp_path):
    """/sim/object_extents comes once per sim episode (latched): an episode opened after it still gets it, and a
    change mid-episode applies from then on."""
    from rclpy.parameter import Parameter

    from gato_ros.nodes.recorder import RecorderNode

    context = Context()
    rclpy.init(context=context)
    node = RecorderNode(context=context, parameter_overrides=[Parameter("output_dir", value=str(tmp_path))])
    try:
        first, second = np.linspace(0.02, 0.06, 9), np.linspace(0.03, 0.07, 9)
        node._on_object_extents(Float64MultiArray(data=first.tolist()))  # before the episode opens
        node._on_object_extents(Float64MultiArray(data=[0.02] * 8))  # malformed: ignored, the last good one kept
        node.start()
        img = Image(height=4, width=4, encoding="rgb8", step=12, data=bytes(48))
        js = JointState(name=list(JOINT_NAMES), position=[0.0] * 8, velocity=[0.0] * 8)
        for k in range(3):
            if k == 2:
                node._on_object_extents(Float64MultiArray(data=second.tolist()))
            time.sleep(0.002)
            node._on_image(img)
            node._on_joint_state(js)
            node._on_command(Float64MultiArray(data=[1.0] * 8))
            time.sleep(0.002)  # receipt times order the messages
        node.stop()
        (bag,) = list_episodes(tmp_path)
        np.testing.assert_array_equal(read_episode(bag).object_extents, np.stack([first, first, second]))
    finally:
        node.destroy_node()
        rclpy.shutdown(context=context)


@pytest.mark.slow
def test_agent_run_recorded_with_record_is_labelled_agent(tiny_model, ros_env, tmp_path):
    """`gato-ros run stacking --sim true --record DIR`: the agent commands, so the bag says agent and names its model
    and prompt (was stored as teleop)."""
    from helpers import CLI

    out = tmp_path / "demos"
    run = subprocess.run([*CLI, "run", "stacking", "--sim", "true", "--model", str(tiny_model), "--record", str(out),
                          "--episodes", "1", "--duration", "4", "--log-dir", str(tmp_path / "logs")],
                         env=ros_env, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    bags = list_episodes(out)
    assert bags, run.stdout[-3000:]
    labelled = [custom_data(b) for b in bags]  # a bag closed before the agent's first command says "none"
    assert {m["source"] for m in labelled} <= {"agent", "none"}, labelled
    agent_bags = [m for m in labelled if m["source"] == "agent"]
    assert agent_bags, labelled
    meta = agent_bags[-1]
    assert Path(meta["model"]) == Path(tiny_model).resolve() and meta["prompt_demo"] == "", meta
    assert [r["node"] for r in json.loads(meta["commanders"])] == ["/agent"]
