"""Gamepad / SpaceMouse teleop: the YAML device mappings, Joy -> twist and gripper, and the joy_teleop node over DDS."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from gato_ros.paths import config_dir
from gato_ros.teleop.joy import JoyMapper, JoyMapping, JoyMappingError, load_mappings
from helpers import wait_for


def test_package_devices_load() -> None:
    devices = load_mappings(config_dir() / "teleop_devices.yaml")
    assert {"gamepad", "spacemouse"} <= set(devices)
    assert devices["spacemouse"].topic == "/spacenav/joy" and devices["gamepad"].topic == ""
    assert set(devices["spacemouse"].axes) == {"vx", "vy", "vz", "wx", "wy", "wz"}


def test_gamepad_deadman_deadzone_and_gripper_edges() -> None:
    pad = JoyMapper(JoyMapping.from_dict("pad", {"axes": {"vx": [1, 0.1], "wz": [2, -0.5]}, "deadzone": 0.2,
                                                 "enable_button": 4, "close_button": 0, "open_button": 1,
                                                 "toggle_button": 2}))
    axes = [0.0, 1.0, 0.6, 0.0]
    assert np.all(pad.update(axes, [0, 0, 0, 0, 0]) == 0)  # deadman released: zero twist
    twist = pad.update(axes, [0, 0, 0, 0, 1])
    assert twist[0] == pytest.approx(0.1) and twist[5] == pytest.approx(-0.5 * (0.6 - 0.2) / 0.8)
    assert pad.update([0.0, 0.15, 0.0, 0.0], [0, 0, 0, 0, 1])[0] == 0.0  # inside the dead zone
    assert pad.gripper == 0.0
    pad.update(axes, [1, 0, 0, 0, 1])
    assert pad.gripper == 1.0  # A closes
    pad.update(axes, [0, 0, 1, 0, 1])
    assert pad.gripper == 0.0  # X toggles
    pad.update(axes, [0, 0, 1, 0, 1])
    assert pad.gripper == 0.0  # held, not pressed again: no second toggle
    pad.update(axes, [0, 0, 0, 0, 1])
    pad.update(axes, [0, 0, 1, 0, 1])
    assert pad.gripper == 1.0


def test_bad_mappings_and_messages_are_refused_clearly() -> None:
    for bad, match in (({"axes": {"vq": [0, 1]}}, "not one of"), ({"axes": {"vx": [0]}}, r"\[axis index, scale\]"),
                       ({"deadzone": 1.5}, "deadzone"), ({"speed": 1}, "unknown keys"), ({"topic": "joy"}, "absolute")):
        with pytest.raises(JoyMappingError, match=match):
            JoyMapping.from_dict("bad", bad)
    mapper = JoyMapper(JoyMapping.from_dict("m", {"axes": {"vx": [5, 1.0]}, "close_button": 3}))
    with pytest.raises(JoyMappingError, match="reports 2 axes"):
        mapper.update([0.0, 0.0], [0, 0, 0, 0])
    with pytest.raises(JoyMappingError, match="reports 1 buttons"):
        mapper.update([0.0] * 6, [0])
    with pytest.raises(JoyMappingError, match="non-finite"):
        mapper.update([0.0] * 5 + [float("nan")], [0] * 4)


@pytest.mark.ros
def test_joy_teleop_node_drives_twist_and_gripper(ros_env, tmp_path) -> None:
    """A gamepad's Joy messages (deadman held, stick up, A pressed) become /teleop/twist and /teleop/gripper; when
    /joy goes silent the node goes silent too (the teleop node then holds)."""
    import rclpy
    from geometry_msgs.msg import Twist
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from sensor_msgs.msg import Joy
    from std_msgs.msg import Float64

    log = tmp_path / "joy.log"
    proc = subprocess.Popen([sys.executable, "-m", "gato_ros.nodes.joy_teleop"], env=ros_env,
                            stdout=log.open("w"), stderr=subprocess.STDOUT)
    context = Context()
    rclpy.init(context=context)
    node = Node("joy_probe", context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    twists: list[tuple[float, np.ndarray]] = []
    grips: list[float] = []
    node.create_subscription(Twist, "/teleop/twist", lambda m: twists.append(
        (time.monotonic(), np.array([m.linear.x, m.linear.y, m.linear.z, m.angular.z]))), 10)
    node.create_subscription(Float64, "/teleop/gripper", lambda m: grips.append(m.data), 10)
    joy_pub = node.create_publisher(Joy, "/joy", 10)
    joy = {"on": True}
    buttons = [0] * 11
    buttons[9] = 1  # left shoulder: the gamepad mapping's deadman
    buttons[0] = 1  # A: close

    def send() -> None:
        if joy["on"]:
            joy_pub.publish(Joy(axes=[0.0, 1.0, 0.0, 0.0, 0.0, 0.0], buttons=buttons))

    node.create_timer(0.05, send)
    stop = threading.Event()
    spinner = threading.Thread(target=lambda: [executor.spin_once(timeout_sec=0.02) for _ in iter(stop.is_set, True)],
                               daemon=True)
    spinner.start()
    try:
        wait_for(lambda: len(twists) >= 10, 60, "twists from joy_teleop")
        assert twists[-1][1][0] == pytest.approx(0.1) and grips[-1] == 1.0  # stick up: +x at the mapped speed
        joy["on"] = False
        time.sleep(1.2)
        silent_since = time.monotonic() - 0.6
        assert all(t < silent_since for t, _ in twists), "joy_teleop kept publishing after /joy went silent"
    finally:
        stop.set()
        spinner.join()
        executor.shutdown()
        node.destroy_node()
        rclpy.shutdown(context=context)
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=20)
    assert code == 0, log.read_text()
