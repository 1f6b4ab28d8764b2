"""The live view without ROS: payloads from /diagnostics values, rate limits, the arm's frames, the shipped layout,
and the Foxglove server (foxglove-sdk) seen by a WebSocket client speaking the Foxglove protocol."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest

from foxglove_client import collect
from gato_ros.interfaces import CAMERA_TOPIC, COMMAND_TOPIC, EFFORT_OUTPUT_TOPIC, JOINT_NAMES, JOINT_STATES_TOPIC
from gato_ros.liveview import (
    AGENT_CHANNEL, EPISODE_CHANNEL, OBJECTS_CHANNEL, SAFETY_CHANNEL, TF_CHANNEL, FoxgloveBridge, FoxgloveConfig,
    LiveViewError, RateLimiter, RateMeter, agent_payload, efforts_payload, episode_payload, joints_payload,
    link_transforms, object_boxes, quat_xyzw, safety_payload, status_node,
)
from gato_ros.robot import RobotModel, default_urdf_path


def test_payloads_from_diagnostics() -> None:
    safety = safety_payload({"mode": "hold", "reason": "no command", "interventions": "7", "publish_rate_hz": "99.5"},
                            "hold: no command")
    assert safety["mode_index"] == 1 and safety["interventions"] == 7 and safety["publish_rate_hz"] == 99.5
    assert safety_payload({}, "")["mode_index"] == -1 and safety_payload({}, "")["interventions"] is None
    agent = agent_payload({"tick_p50_ms": "8.5", "tick_p99_ms": "12.25", "published": "40", "context_fill": "0.5"},
                          "acting", 19.8)
    assert agent["p99_ms"] == 12.25 and agent["published"] == 40 and agent["command_rate_hz"] == 19.8
    assert agent_payload({"tick_p99_ms": "n/a"}, "", None)["p99_ms"] is None  # unparsable: null, not a crash
    ep = episode_payload({"episode": "3", "stage": "grasped", "success": "False", "episode_time_s": "4.5"}, "")
    assert ep["stage_index"] == 2 and ep["episode"] == 3 and ep["success"] is False
    assert joints_payload(["a"], [1], [2], [3]) == {"name": ["a"], "position": [1.0], "velocity": [2.0],
                                                     "effort": [3.0]}
    assert efforts_payload(np.arange(2.0), ["a", "b"])["effort"] == [0.0, 1.0]
    assert status_node("safety: safety") == "safety"


def test_rate_limiter_and_meter() -> None:
    limit = RateLimiter(10.0)
    passed = [t for t in np.arange(0, 1.0, 0.01) if limit.ready(float(t))]
    assert len(passed) == 10  # 100 Hz in, 10 Hz out
    meter = RateMeter(window_s=1.0)
    assert meter.rate(0.0) is None
    for t in np.arange(0, 2.0, 0.05):
        meter.tick(float(t))
    assert meter.rate(1.95) == pytest.approx(20.0, rel=0.01)
    assert meter.rate(10.0) is None  # nothing in the window: no rate


def test_link_transforms_match_forward_kinematics() -> None:
    robot = RobotModel.from_file(default_urdf_path())
    q = np.array([0.3, -0.5, 0.2, 1.1, -0.4, 0.6, 0.1])
    poses, _ = robot.link_poses(q)
    frames = {tf.child: tf for tf in link_transforms(poses, robot.urdf.root)}
    pinch = robot.fk(q)
    assert np.allclose(frames[robot.tool_link].translation, pinch[:3, 3])
    x, y, z, w = frames[robot.tool_link].rotation
    rot = np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                    [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                    [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])
    assert np.allclose(rot, pinch[:3, :3], atol=1e-9)
    assert quat_xyzw(np.diag([1.0, -1.0, -1.0])) == pytest.approx((1.0, 0.0, 0.0, 0.0))  # 180 deg about x
    assert robot.urdf.root not in frames and all(tf.parent == robot.urdf.root for tf in frames.values())
    boxes = object_boxes(np.tile([0.1, 0.2, 0.3, 1.0, 0.0, 0.0, 0.0], 3))
    assert [b[0] for b in boxes] == ["red", "green", "blue"] and boxes[0][2] == (0.0, 0.0, 0.0, 1.0)


def test_shipped_layout_is_current_and_names_our_channels() -> None:
    from gato_ros.liveview.layout import ROOT_FRAME, layout_path, main

    assert main(["--check"]) == 0, "config/foxglove_layout.json is stale: python -m gato_ros.liveview.layout"
    text = layout_path().read_text()
    for topic in (CAMERA_TOPIC, JOINT_STATES_TOPIC, COMMAND_TOPIC, EFFORT_OUTPUT_TOPIC, SAFETY_CHANNEL, AGENT_CHANNEL,
                  EPISODE_CHANNEL, OBJECTS_CHANNEL):
        assert topic in text, topic
    assert ROOT_FRAME == RobotModel.from_file(default_urdf_path()).urdf.root
    assert json.loads(text)["content"]["type"] == "split"


def test_config_rejects_bad_values() -> None:
    with pytest.raises(LiveViewError):
        FoxgloveConfig(port=70000)
    with pytest.raises(LiveViewError):
        FoxgloveConfig(image_rate_hz=0.0)


def test_bridge_advertises_and_delivers_to_a_foxglove_client() -> None:
    """A real foxglove-sdk server on a free port; the client subscribes to every channel and decodes what it gets."""
    bridge = FoxgloveBridge(port=0)
    assert not bridge.wanted(CAMERA_TOPIC)  # no client yet: the node builds nothing
    stop = threading.Event()

    def feed() -> None:
        robot = RobotModel.from_file(default_urdf_path())
        frames = link_transforms(robot.link_poses(np.zeros(7))[0], robot.urdf.root)
        while not stop.is_set():
            t = time.time_ns()
            bridge.image(8, 4, "rgb8", 24, bytes(range(96)), t)
            bridge.log_json(JOINT_STATES_TOPIC, joints_payload(JOINT_NAMES, np.arange(8.0), np.zeros(8),
                                                               np.zeros(8)), t)
            bridge.log_json(SAFETY_CHANNEL, safety_payload({"mode": "active", "interventions": "2"}, "ok"), t)
            bridge.transforms(frames, t)
            bridge.objects(np.tile([0.0, 0.0, 0.1, 1.0, 0.0, 0.0, 0.0], 3), t)
            stop.wait(0.02)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        got = collect(f"ws://127.0.0.1:{bridge.port}", seconds=2.0)
    finally:
        stop.set()
        feeder.join()
        bridge.close()
    assert set(got.channels) == set(bridge.topics)
    assert got.channels[CAMERA_TOPIC]["schemaName"] == "foxglove.RawImage"
    assert got.channels[TF_CHANNEL]["schemaName"] == "foxglove.FrameTransforms"
    assert got.channels[JOINT_STATES_TOPIC]["encoding"] == "json"
    assert json.loads(got.channels[SAFETY_CHANNEL]["schema"])["properties"]["mode"] == {"type": "string"}
    assert got.json(JOINT_STATES_TOPIC)["position"] == list(np.arange(8.0))
    assert got.json(SAFETY_CHANNEL)["interventions"] == 2 and got.json(SAFETY_CHANNEL)["message"] == "ok"
    assert bytes(range(96)) in got.last[CAMERA_TOPIC]  # the frame's pixels inside the protobuf RawImage
    for topic in (CAMERA_TOPIC, JOINT_STATES_TOPIC, TF_CHANNEL, OBJECTS_CHANNEL):
        assert got.rate(topic) > 10.0, (topic, got.rate(topic))  # fed at ~50 Hz


def test_action_distribution_summary() -> None:
    from gato_ros.agent.distribution import GROUPS, action_distribution

    logits = np.full((8, 1024), -10.0)
    logits[0, 1000] = 10.0  # joint 0: almost all mass near the top bin
    dist = action_distribution(logits, lambda i, v: 80.0 * v, JOINT_NAMES)
    j0 = dist["joints"][0]
    assert len(dist["joints"]) == 8 and len(j0["prob"]) == len(j0["effort"]) == GROUPS
    assert int(np.argmax(j0["prob"])) == 1000 // 16 and j0["max_prob"] > 0.99
    assert j0["expected"] == pytest.approx(80.0 * (-1 + 1000.5 * 2 / 1024), abs=0.01)
    assert np.all(np.diff(j0["effort"]) > 0) and sum(dist["joints"][3]["prob"]) == pytest.approx(1.0, abs=1e-3)
    assert dist["joints"][3]["expected"] == pytest.approx(0.0, abs=1e-6)  # flat: centred
    with pytest.raises(ValueError):
        action_distribution(logits[:, :1000], lambda i, v: v, JOINT_NAMES)
