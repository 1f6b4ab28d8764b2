"""MuJoCo RGB Stacking cell (primitive and real-asset variants) behind the robot's torque interface."""

from gato_ros.sim.env import EnvError, Observation, StackingEnv

__all__ = ["EnvError", "Observation", "StackingEnv"]
