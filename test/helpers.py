"""Helpers shared by the process-level tests: the CLI command line, /proc process checks, polling."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Callable

CLI = [sys.executable, "-c", "import sys; from gato_ros.cli import main; sys.exit(main(sys.argv[1:]))"]
JOINTS = [f"right_j{i}" for i in range(7)] + ["gripper_joint"]


def children_of(pid: int) -> list[int]:
    """Direct children of `pid` (Linux /proc)."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(x) for x in (task / "children").read_text().split()]
        except FileNotFoundError:
            pass
    return out


def alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


def wait_for(pred: Callable[[], Any], timeout: float, what: str, period: float = 0.02) -> Any:
    """Poll `pred` until it returns something truthy (returned), or fail after `timeout` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = pred()
        if value:
            return value
        time.sleep(period)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def robosuite_available() -> bool:
    """Whether the Panda assets (robosuite's package data, installed --no-deps by `make install`) are present."""
    from gato_ros.sim import panda_mjcf
    from gato_ros.sim.assets import AssetsNotInstalledError

    try:
        panda_mjcf.robosuite_assets()
        return True
    except AssetsNotInstalledError:
        return False


def spin_in_background(context: Any, executor: Any) -> Any:
    """Spin `executor` on a daemon thread until `context` shuts down; returns the started thread."""
    import threading

    def spin() -> None:
        while context.ok():
            try:
                executor.spin_once(timeout_sec=0.05)
            except Exception:  # context shut down while spinning
                return

    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    return thread
