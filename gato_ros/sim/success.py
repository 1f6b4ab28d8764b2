"""The RGB Stacking benchmark's success test and the task stages, as pure functions of object poses."""

from __future__ import annotations

import numpy as np

HORIZONTAL_TOLERANCE = 0.03  # red within 0.03 m of blue in the horizontal plane
VERTICAL_OFFSET = 0.04  # red 0.04 m above blue ...
VERTICAL_TOLERANCE = 0.01  # ... +- 0.01 m
REACH_DISTANCE = 0.03  # pinch point within this of red's centre counts as reached
LIFT_HEIGHT = 0.05  # red this far above its resting height counts as lifted
STAGES = ("none", "reached", "grasped", "lifted", "stacked")


SUCCESS_RULES = ("size_aware", "literal")


def is_stacked(red_pos: np.ndarray, blue_pos: np.ndarray, grasping: bool,
               vertical_offset: float = VERTICAL_OFFSET) -> bool:
    """Benchmark success: red within 0.03 m of blue horizontally, `vertical_offset` +- 0.01 m above it (object
    frames at their centres; the benchmark's 0.04 m by default), and not grasped."""
    red, blue = np.asarray(red_pos, dtype=np.float64), np.asarray(blue_pos, dtype=np.float64)
    horizontal = float(np.linalg.norm(red[:2] - blue[:2]))
    vertical = float(red[2] - blue[2])
    return (horizontal <= HORIZONTAL_TOLERANCE and abs(vertical - vertical_offset) <= VERTICAL_TOLERANCE
            and not grasping)


def resting_offset(red_pos: np.ndarray, red_points: np.ndarray, blue_pos: np.ndarray,
                   blue_points: np.ndarray) -> float:
    """Centre-to-centre height of red resting on blue in their current orientations (world-frame points):
    red's centre-to-bottom plus blue's top-to-centre. Two 0.04 m cubes give the benchmark's 0.04 m."""
    return float((red_pos[2] - np.min(red_points[:, 2])) + (np.max(blue_points[:, 2]) - blue_pos[2]))


def stage_flags(pinch_pos: np.ndarray, red_pos: np.ndarray, red_rest_z: float, grasping: bool,
                stacked: bool) -> dict[str, bool]:
    """Which task stages hold now: reached (pinch at red), grasped, lifted (grasped and raised), stacked."""
    reached = float(np.linalg.norm(np.asarray(pinch_pos) - np.asarray(red_pos))) <= REACH_DISTANCE
    lifted = grasping and float(red_pos[2]) - red_rest_z >= LIFT_HEIGHT
    return {"reached": reached or grasping, "grasped": grasping, "lifted": lifted, "stacked": stacked}


def furthest_stage(flags: dict[str, bool]) -> str:
    """The furthest stage that holds ('none' if none does)."""
    best = "none"
    for name in STAGES[1:]:
        if flags.get(name):
            best = name
    return best
