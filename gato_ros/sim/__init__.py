"""MuJoCo RGB Stacking cell (primitive and real-asset variants) behind the robot's torque interface."""

import os

# Offscreen rendering without a display: EGL (Mesa) unless the user chose another backend.
os.environ.setdefault("MUJOCO_GL", "egl")

from gato_ros.sim.env import EnvError, Observation, StackingEnv  # noqa: E402 - after MUJOCO_GL

__all__ = ["EnvError", "Observation", "StackingEnv"]
