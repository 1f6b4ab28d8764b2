"""MuJoCo's own interactive viewer (`mujoco.viewer.launch_passive`) on the sim node's model, when a display exists.

The sim keeps stepping the physics; the viewer only shows it (synced at most `max_rate_hz`). Without a display, or
when the viewer cannot start, `SimViewer` says why once and stays off: the sim runs on, never crashes for a window.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, Callable, Mapping

#: What to use instead when there is no window (the issue of a headless robot).
HEADLESS_HINT = "for a live view on a headless machine use --foxglove (foxglove:=true; docs/DEMOS.md)"


def display_problem(environ: Mapping[str, str] = os.environ, platform: str = sys.platform) -> str | None:
    """Why no viewer window can open here (None: a display seems to exist)."""
    if platform == "darwin":
        return None  # macOS always has a display (the viewer itself then asks for mjpython)
    if platform.startswith("win"):
        return None
    if not (environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY")):
        return "no display: DISPLAY and WAYLAND_DISPLAY are unset"
    return None


class SimViewer:
    """A passive MuJoCo viewer that follows the sim's (model, data) and never takes the sim down."""

    def __init__(self, log: Callable[[str], None], max_rate_hz: float = 60.0,
                 environ: Mapping[str, str] = os.environ) -> None:
        self.log = log
        self.period_s = 1.0 / max_rate_hz
        self.problem = display_problem(environ)
        self._handle: Any = None
        self._model: Any = None
        self._next = 0.0
        self._closed_by_user = False
        if self.problem is not None:
            self.log(f"viewer not started ({self.problem}); the sim runs without a window; {HEADLESS_HINT}")

    @property
    def state(self) -> str:
        """'open', 'closed' (by the user) or 'off: <why>' (for diagnostics)."""
        if self._handle is not None:
            return "open"
        return f"off: {self.problem}" if self.problem else "closed"

    def attach(self, model: Any, data: Any) -> None:
        """Show this model and data (a new episode may bring a new model: the window is reopened on it)."""
        if self.problem is not None or self._closed_by_user or model is self._model:
            return
        self.close()
        self._model = model
        try:
            import glfw
            import mujoco.viewer

            if not glfw.init():
                raise RuntimeError("GLFW could not initialise the display")
            self._handle = mujoco.viewer.launch_passive(model, data, show_left_ui=False, show_right_ui=False)
        except Exception as exc:  # ImportError (no glfw library), RuntimeError (no display connection, mjpython)
            self.problem = f"{type(exc).__name__}: {exc}"
            self.log(f"viewer not started ({self.problem}); the sim runs without a window; {HEADLESS_HINT}")

    def sync(self, now: float | None = None) -> None:
        """Copy the physics state to the window (rate-limited); a window the user closed stays closed."""
        if self._handle is None:
            return
        now = time.monotonic() if now is None else now
        if now < self._next:
            return
        self._next = now + self.period_s
        if not self._handle.is_running():
            self._handle, self._closed_by_user = None, True
            self.log("viewer closed; the sim runs on")
            return
        self._handle.sync()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
