"""`viewer:=true` / `--viewer`: MuJoCo's passive viewer on the sim node; without a display a clear message, no crash."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from gato_ros.sim.viewer import HEADLESS_HINT, SimViewer, display_problem
from helpers import wait_for


def test_display_problem() -> None:
    assert "DISPLAY and WAYLAND_DISPLAY are unset" in display_problem({}, "linux")
    assert display_problem({"DISPLAY": ":0"}, "linux") is None
    assert display_problem({"WAYLAND_DISPLAY": "wayland-0"}, "linux") is None
    assert display_problem({}, "darwin") is None


def test_viewer_without_display_says_why_once_and_stays_off() -> None:
    import mujoco

    said: list[str] = []
    viewer = SimViewer(said.append, environ={})
    model = mujoco.MjModel.from_xml_string("<mujoco><worldbody><geom size='0.1'/></worldbody></mujoco>")
    viewer.attach(model, mujoco.MjData(model))
    viewer.sync()
    viewer.close()
    assert len(said) == 1 and "no display" in said[0] and HEADLESS_HINT in said[0]
    assert viewer.state.startswith("off: no display")


def test_viewer_that_cannot_open_a_window_is_reported_not_raised() -> None:
    """A DISPLAY that leads nowhere (or no GLFW library): the failure is caught and said, the caller goes on."""
    import mujoco

    said: list[str] = []
    viewer = SimViewer(said.append, environ={"DISPLAY": ":97"})
    if os.environ.get("DISPLAY") == ":97":
        pytest.skip("a display :97 exists here")
    model = mujoco.MjModel.from_xml_string("<mujoco/>")
    env_display = os.environ.pop("DISPLAY", None)
    os.environ["DISPLAY"] = ":97"
    try:
        viewer.attach(model, mujoco.MjData(model))
    finally:
        os.environ.pop("DISPLAY")
        if env_display is not None:
            os.environ["DISPLAY"] = env_display
    assert viewer.state.startswith("off: ") and len(said) == 1 and "viewer not started" in said[0], said
    viewer.sync()  # a no-op, not an error


@pytest.mark.ros
def test_sim_node_with_viewer_and_no_display_runs_on(ros_env, tmp_path) -> None:
    """The sim node started with viewer:=true on a headless machine warns, keeps publishing and exits cleanly."""
    from gato_ros.launch_runner.monitor import GraphMonitor

    env = {k: v for k, v in ros_env.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    log = tmp_path / "sim.log"
    proc = subprocess.Popen([sys.executable, "-m", "gato_ros.nodes.sim", "--ros-args", "-p", "viewer:=true",
                             "-p", "diagnostics_period_s:=0.2"], env=env, stdout=log.open("w"),
                            stderr=subprocess.STDOUT)
    try:
        with GraphMonitor("viewer_probe") as monitor:
            values = wait_for(lambda: proc.poll() is None and monitor.latest("sim").get("viewer"), 60,
                              "sim diagnostics with the viewer state")
            first = int(monitor.latest("sim")["joint_states"])
            time.sleep(0.5)
            assert int(monitor.latest("sim")["joint_states"]) > first  # the sim runs on
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=20)
    text = log.read_text()
    assert code == 0, text
    assert values.startswith("off: no display") and "viewer not started (no display" in text, text
