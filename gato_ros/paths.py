"""Where the package's data (launch, config, urdf, models, sim, robots) lives, however it was installed."""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path

PACKAGE = "gato_ros"


@lru_cache(maxsize=1)
def share_dir() -> Path:
    """The package share folder: the source tree (editable/dev), colcon's share dir, or pip's prefix/share."""
    source = Path(__file__).resolve().parent.parent
    if (source / "package.xml").is_file() and (source / "config").is_dir():
        return source
    try:
        from ament_index_python.packages import get_package_share_directory

        return Path(get_package_share_directory(PACKAGE))
    except Exception:  # ament_index absent (pip-only) or package not in the index
        pass
    candidate = Path(sys.prefix) / "share" / PACKAGE
    if candidate.is_dir():
        return candidate
    raise FileNotFoundError(f"cannot find the {PACKAGE} share folder (looked in {source} and {candidate})")


def config_dir() -> Path:
    return share_dir() / "config"


def models_dir() -> Path:
    return share_dir() / "models"


def urdf_dir() -> Path:
    return share_dir() / "urdf"


def sim_dir() -> Path:
    return share_dir() / "sim"


def launch_dir() -> Path:
    return share_dir() / "launch"
