"""The recorder's decisions: episode directory names, the sim's episode from /diagnostics, the stored outcome."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gato_ros.interfaces import TRUE_WORDS


def episode_dir(root: Path, prefix: str, index: int, now: float | None = None) -> Path:
    """A new, unused episode directory name: <prefix>_<YYYYmmdd_HHMMSS>_<index>."""
    stamp = time.strftime("%Y%m%d_%H%M%S", time.localtime(now))
    path = root / f"{prefix}_{stamp}_{index:03d}"
    k = 1
    while path.exists():
        path = root / f"{prefix}_{stamp}_{index:03d}_{k}"
        k += 1
    return path


@dataclass
class SimEpisode:
    """What the sim's /diagnostics said about its current episode."""

    episode: int | None = None
    success: bool = False


def parse_sim_diagnostics(values: dict[str, str]) -> SimEpisode | None:
    """The sim's episode index and current success from one diagnostic status's values (None: not the sim's)."""
    if "episode" not in values or "success" not in values or "stage" not in values:
        return None
    try:
        return SimEpisode(int(values["episode"]), values["success"].strip().lower() in TRUE_WORDS)
    except ValueError:
        return None


def decide_outcome(operator: bool | None, sim: SimEpisode | None) -> dict[str, Any] | None:
    """The outcome to store: the operator's mark wins, else the sim's success, else unknown (None)."""
    if operator is not None:
        return {"success": operator, "marked_by": "operator"}
    if sim is not None and sim.episode is not None:
        return {"success": sim.success, "marked_by": "sim", "sim_episode": sim.episode}
    return None
