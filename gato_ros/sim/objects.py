"""RGB objects: the benchmark's object sets and triplets, seeded triplet choice, and each object's shape.

Names and triplets follow the RGB Stacking benchmark (rgb_v1.3): five fixed test triplets
`rgb_test_triplet1..5`, `rgb_test_random` (one of the five), `rgb_train_random` (three objects from the
training set) and `rgb_heldout_random`. Shape parameters come from sim/rgb_objects.json (generated from the
mesh file names by sim/generate_robot.py), so the primitive cell needs no asset install."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

COLORS = ("red", "green", "blue")
RGBA = {"red": (0.85, 0.1, 0.1, 1.0), "green": (0.1, 0.7, 0.15, 1.0), "blue": (0.1, 0.2, 0.85, 1.0)}
TEST_TRIPLETS: dict[str, tuple[str, str, str]] = {
    "rgb_test_triplet1": ("r3", "s0", "b2"),
    "rgb_test_triplet2": ("r5", "g2", "b3"),
    "rgb_test_triplet3": ("r6", "g3", "b5"),
    "rgb_test_triplet4": ("s0", "g5", "b6"),
    "rgb_test_triplet5": ("r2", "g6", "s0"),
}
RANDOM_SETS = {"rgb_train_random": "train", "rgb_heldout_random": "heldout", "rgb_test_random": None}
OBJECT_SETS = tuple(TEST_TRIPLETS) + tuple(RANDOM_SETS)
GRASP_YAW_STEPS = 72  # candidate yaws over [0, pi): 2.5 degrees, the scripted expert's own grasp-yaw resolution


class ObjectSetError(ValueError):
    """Unknown object set or object name."""


@dataclass(frozen=True)
class ObjectShape:
    """A stand-in shape for an RGB object: extents (m) and polygon side count (4: box, more: cylinder)."""

    name: str
    sides: int
    extents: tuple[float, float, float]  # full size along x, y, z

    @property
    def is_box(self) -> bool:
        return self.sides <= 4

    @property
    def half_height(self) -> float:
        return 0.5 * self.extents[2]


@lru_cache(maxsize=1)
def object_table() -> dict[str, dict]:
    from gato_ros.paths import sim_dir

    return json.loads((sim_dir() / "rgb_objects.json").read_text())


def shape(name: str) -> ObjectShape:
    table = object_table()
    if name not in table:
        raise ObjectSetError(f"unknown RGB object {name!r} (known: {len(table)} names, e.g. s0, r3, b2)")
    e = table[name]
    return ObjectShape(name, int(e["sds"]), (e["scx"] / 1000.0, e["scy"] / 1000.0, e["scz"] / 1000.0))


def names_in(folder: str) -> list[str]:
    return sorted(n for n, e in object_table().items() if e["set"] == folder)


def triplet(object_set: str, rng: np.random.Generator) -> tuple[str, str, str]:
    """(red, green, blue) object names for `object_set`; random sets draw from `rng`."""
    if object_set in TEST_TRIPLETS:
        return TEST_TRIPLETS[object_set]
    if object_set not in RANDOM_SETS:
        raise ObjectSetError(f"unknown object_set {object_set!r}; choose one of {', '.join(OBJECT_SETS)}")
    if object_set == "rgb_test_random":
        return TEST_TRIPLETS[sorted(TEST_TRIPLETS)[int(rng.integers(len(TEST_TRIPLETS)))]]
    pool = names_in(RANDOM_SETS[object_set])
    picked = rng.choice(len(pool), size=3, replace=False)
    return tuple(pool[i] for i in picked)  # type: ignore[return-value]


def grasp_yaw(points: np.ndarray) -> float:
    """Yaw (rad, in [0, pi)) about z along which `points` [N, 3] (an object's vertices in its own frame, z up) are
    narrowest horizontally: where a top-down parallel gripper closes on the object. Equal widths (to 1 micron) keep
    the smaller yaw, so the choice is stable."""
    xy = np.asarray(points, dtype=np.float64).reshape(-1, 3)[:, :2]
    if len(xy) < 2 or not np.all(np.isfinite(xy)):
        raise ValueError(f"grasp_yaw needs at least 2 finite points, got {len(xy)}")
    yaws = np.arange(GRASP_YAW_STEPS) * (np.pi / GRASP_YAW_STEPS)
    widths = np.ptp(xy @ np.stack([np.cos(yaws), np.sin(yaws)]), axis=0)
    return float(yaws[int(np.argmin(np.round(widths, 6)))])
