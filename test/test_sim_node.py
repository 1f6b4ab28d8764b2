"""sim node: pure helpers (pacing, camera info, config) and the node as a process over real DDS."""

from __future__ import annotations

import math
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from gato_ros.nodes.common import config_from_params_file
from gato_ros.nodes.sim import camera_info, stamp_from_seconds
from gato_ros.sim.config import SimConfig, SimConfigError
from gato_ros.sim.pacer import Pacer
from gato_ros.paths import config_dir

ROOT = Path(__file__).resolve().parent.parent


def test_pacer_tracks_wall_time_times_factor() -> None:
    p = Pacer(chunk_s=0.01, real_time_factor=2.0)
    sim = 0.0
    assert p.chunks_due(100.0, sim) == 0
    for k in range(1, 101):
        n = p.chunks_due(100.0 + k * 0.005, sim)
        sim += n * 0.01
    assert sim == pytest.approx(1.0)  # 0.5 s wall at 2x = 1 s sim
    assert p.achieved(100.5, sim) == pytest.approx(2.0)


def test_pacer_drops_backlog_when_too_slow() -> None:
    p = Pacer(chunk_s=0.01, real_time_factor=1.0, max_chunks=5)
    p.restart(0.0, 0.0)
    assert p.chunks_due(1.0, 0.0) == 5  # 100 due, 5 stepped, the rest given up
    assert p.dropped_s == pytest.approx(0.95)
    assert p.chunks_due(1.0, 0.05) == 0
    assert Pacer(0.01, 0.0).chunks_due(5.0, 0.0) == 1  # as fast as possible


def test_camera_info_pinhole() -> None:
    info = camera_info(64, 48, 90.0, "camera")
    assert info.k[0] == pytest.approx(24.0) and info.k[4] == pytest.approx(24.0)
    assert (info.k[2], info.k[5]) == (31.5, 23.5) and (info.width, info.height) == (64, 48)


def test_stamp_from_seconds() -> None:
    s = stamp_from_seconds(12.3456789)
    assert s.sec == 12 and abs(s.nanosec - 345678900) <= 1


@pytest.mark.parametrize("bad", [{"cell": "moon"}, {"image_width": 4}, {"real_time_factor": -1.0},
                                 {"control_rate_hz": 200.0}, {"real_time_factor": math.nan}])
def test_config_validation(bad: dict[str, object]) -> None:
    with pytest.raises(SimConfigError):
        SimConfig(**bad)


def test_package_config_matches_defaults() -> None:
    assert config_from_params_file(SimConfig, config_dir() / "sim.yaml", "sim") == SimConfig()


# ----------------------------------------------------------------------------- the node over DDS

@pytest.mark.ros
def test_sim_node_publishes_and_applies_commands(ros_env: dict[str, str]) -> None:
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from rosgraph_msgs.msg import Clock
    from sensor_msgs.msg import CameraInfo, Image, JointState
    from std_msgs.msg import Float64MultiArray
    from std_srvs.srv import Trigger

    from gato_ros.interfaces import (
        CAMERA_INFO_TOPIC, CAMERA_TOPIC, JOINT_NAMES, JOINT_STATES_TOPIC, LATCHED_QOS, OBJECT_EXTENTS_TOPIC,
        OBJECT_POSES_TOPIC, SENSOR_QOS,
    )
    from gato_ros.nodes.common import diagnostic_values

    proc = subprocess.Popen(
        [sys.executable, "-m", "gato_ros.nodes.sim", "--ros-args", "-p", "image_width:=64", "-p",
         "image_height:=48", "-p", "diagnostics_period_s:=0.5", "-p", "use_sim_time:=true"],
        env=ros_env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    ctx = Context()
    rclpy.init(context=ctx)
    node = Node("sim_probe", context=ctx)
    ex = SingleThreadedExecutor(context=ctx)
    ex.add_node(node)
    lock = threading.Lock()
    got: dict[str, list] = {"js": [], "img": [], "info": [], "clock": [], "diag": [], "objects": [], "extents": []}

    def keep(key: str):
        def cb(msg: object) -> None:
            with lock:
                got[key].append((time.monotonic(), msg))
        return cb

    node.create_subscription(JointState, JOINT_STATES_TOPIC, keep("js"), 10)
    from geometry_msgs.msg import PoseArray

    node.create_subscription(PoseArray, OBJECT_POSES_TOPIC, keep("objects"), 50)
    node.create_subscription(Float64MultiArray, OBJECT_EXTENTS_TOPIC, keep("extents"), LATCHED_QOS.profile())
    node.create_subscription(Image, CAMERA_TOPIC, keep("img"), SENSOR_QOS.profile())
    node.create_subscription(CameraInfo, CAMERA_INFO_TOPIC, keep("info"), SENSOR_QOS.profile())
    node.create_subscription(Clock, "/clock", keep("clock"), SENSOR_QOS.profile())
    node.create_subscription(DiagnosticArray, "/diagnostics", keep("diag"), 10)
    cmd_pub = node.create_publisher(Float64MultiArray, "/effort_controller/commands", 10)
    reset = node.create_client(Trigger, "/sim/reset")
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            ex.spin_once(timeout_sec=0.05)

    thread = threading.Thread(target=spin, daemon=True)
    thread.start()

    def wait(pred, timeout: float, what: str) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if pred():
                return
            if proc.poll() is not None:
                raise AssertionError(f"sim node exited: {proc.stdout.read()}")
            time.sleep(0.02)
        raise AssertionError(f"timed out waiting for {what}")

    def q_now() -> np.ndarray:
        with lock:
            return np.array(got["js"][-1][1].position)

    try:
        wait(lambda: len(got["js"]) > 20 and len(got["img"]) > 2, 60.0, "joint states and images")
        t0 = time.monotonic()
        time.sleep(2.0)
        with lock:
            js = [m for t, m in got["js"] if t >= t0]
            imgs = [m for t, m in got["img"] if t >= t0]
        js_rate, img_rate = len(js) / 2.0, len(imgs) / 2.0
        print(f"\nsim rates: joint_states {js_rate:.1f} Hz, images {img_rate:.1f} Hz")
        assert list(js[-1].name) == list(JOINT_NAMES) and len(js[-1].velocity) == 8
        assert js_rate > 50 and 12 < img_rate < 25
        img = imgs[-1]
        assert (img.encoding, img.width, img.height, len(img.data)) == ("rgb8", 64, 48, 64 * 48 * 3)
        assert np.asarray(img.data).std() > 0  # not a blank frame
        assert got["info"] and got["info"][-1][1].width == 64
        clocks = [m.clock.sec + m.clock.nanosec * 1e-9 for _, m in got["clock"]]
        assert len(clocks) > 20 and np.all(np.diff(clocks) > 0)
        stamp = js[-1].header.stamp
        assert abs(stamp.sec + stamp.nanosec * 1e-9 - clocks[-1]) < 1.0  # stamped with sim time

        # object poses: one PoseArray per joint state, same stamp, world frame, red/green/blue
        from gato_ros.observation import object_state_from_pose_array
        from gato_ros.sim.env import StackingEnv

        with lock:
            objects = [m for _, m in got["objects"]]
            js_stamps = {(m.header.stamp.sec, m.header.stamp.nanosec) for _, m in got["js"]}
        assert len(objects) > 20 and all(len(m.poses) == 3 and m.header.frame_id == "world" for m in objects)
        assert sum((m.header.stamp.sec, m.header.stamp.nanosec) in js_stamps for m in objects) >= len(objects) - 5
        first = object_state_from_pose_array(objects[0])
        env0 = StackingEnv(cell="primitive", image_size=(48, 64))
        env0.reset(0)
        xy = [0, 1, 7, 8, 14, 15]  # x, y of each object: where seed 0 put them
        assert np.allclose(first[xy], env0.object_state()[xy], atol=0.02)
        with lock:  # latched: this late subscriber still gets episode 0's extents, once
            extents = [list(m.data) for _, m in got["extents"]]
        assert len(extents) == 1 and np.allclose(extents[0], env0.object_extents())
        env0.reset(1)
        extents_1 = env0.object_extents()
        env0.close()

        # zero command: the arm's gravity compensation holds it (drift small); +torque on j0: it turns
        q_before = q_now()
        time.sleep(0.5)
        drift = np.abs(q_now()[:7] - q_before[:7]).max()
        cmd = np.zeros(8)
        cmd[0] = 15.0
        t_cmd = time.monotonic()
        while time.monotonic() - t_cmd < 0.6:
            cmd_pub.publish(Float64MultiArray(data=cmd.tolist()))
            time.sleep(0.05)
        moved = q_now()[0] - q_before[0]
        print(f"zero-command drift {drift:.4f} rad; j0 moved {moved:.3f} rad under +15 Nm")
        assert drift < 0.05 and moved > 0.05
        cmd_pub.publish(Float64MultiArray(data=[math.nan] * 8))  # refused, like a real controller

        assert reset.wait_for_service(timeout_sec=5.0)
        future = reset.call_async(Trigger.Request())
        wait(future.done, 20.0, "reset")
        assert future.result().success and "episode 1" in future.result().message

        def episode_diag() -> dict[str, str]:
            with lock:
                for _, arr in reversed(got["diag"]):
                    for s in arr.status:
                        if s.name.startswith("sim"):
                            return diagnostic_values(s)
            return {}

        wait(lambda: episode_diag().get("episode") == "1", 5.0, "diagnostics of episode 1")
        with lock:  # the new episode's objects (seed 1) come with their extents
            assert np.allclose(list(got["extents"][-1][1].data), extents_1)
        d = episode_diag()
        assert d["success"] in ("True", "False") and int(d["bad_commands"]) >= 1 and "stage" in d
        assert proc.poll() is None
    finally:
        stop.set()
        thread.join(timeout=2)
        ex.shutdown(timeout_sec=1)
        node.destroy_node()
        rclpy.try_shutdown(context=ctx)
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_stamp_from_seconds_never_goes_backwards() -> None:
    """Rounding the fraction alone once turned 2.9999999996 s into 2 s + 0 ns: /clock jumped back 1 s."""
    from gato_ros.nodes.sim import stamp_from_seconds

    stamps = [stamp_from_seconds(k * 0.01) for k in range(1, 2000)] + [stamp_from_seconds(2.9999999996)]
    assert (stamps[-1].sec, stamps[-1].nanosec) == (3, 0)
    totals = [s.sec * 10**9 + s.nanosec for s in stamps[:-1]]
    assert all(b > a for a, b in zip(totals, totals[1:]))
    assert all(0 <= s.nanosec < 10**9 for s in stamps)
