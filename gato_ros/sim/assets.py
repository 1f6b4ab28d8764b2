"""Paths of the genuine RGB Stacking assets installed as package data of dm-robotics-moma / -manipulation.

Only files are located here (no dm_robotics Python is imported: its stack pins old versions)."""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path


class AssetsNotInstalledError(FileNotFoundError):
    """The dm-robotics asset packages are missing (install with `pip install --no-deps`)."""


_HINT = "pip install --no-deps dm-robotics-moma==0.10.0 dm-robotics-manipulation==0.10.0"


@lru_cache(maxsize=1)
def dm_robotics_root() -> Path:
    """The installed `dm_robotics` namespace folder holding `moma/` and `manipulation/`."""
    for entry in sys.path:
        root = Path(entry or ".") / "dm_robotics"
        if (root / "moma" / "models").is_dir() and (root / "manipulation" / "props").is_dir():
            return root.resolve()
    raise AssetsNotInstalledError(f"dm_robotics moma/manipulation assets not found on sys.path; run: {_HINT}")


def _existing(path: Path) -> Path:
    if not path.exists():
        raise AssetsNotInstalledError(f"missing asset {path}; reinstall with: {_HINT}")
    return path


def sawyer_xml() -> Path:
    return _existing(dm_robotics_root() / "moma/models/vendor/rethink/sawyer_description/mjcf/sawyer.xml")


def sawyer_torque_actuators_xml() -> Path:
    return _existing(dm_robotics_root()
                     / "moma/models/vendor/rethink/sawyer_description/mjcf/sawyer_torque_actuators.xml")


def robotiq_2f85_xml() -> Path:
    return _existing(dm_robotics_root() / "moma/models/vendor/robotiq_beta_robots/mujoco/robotiq_2f85_v2.xml")


def fts300_xml() -> Path:
    return _existing(dm_robotics_root() / "moma/models/end_effectors/wrist_sensors/robotiq_fts300.xml")


def basket_xml() -> Path:
    return _existing(dm_robotics_root() / "manipulation/standard_cell/rgb_basket_assets/rgb_basket.xml")


def rgb_object_mesh(name: str) -> Path:
    """The v1.3 STL of RGB object `name` (e.g. 's0', 'r3', 'b2')."""
    meshes = dm_robotics_root() / "manipulation/props/rgb_objects/assets/rgb_v1.3/meshes"
    found = sorted(meshes.glob(f"*/{name}_*.stl"))
    if not found:
        raise AssetsNotInstalledError(f"no rgb_v1.3 mesh for object {name!r} under {meshes}")
    return found[0]
