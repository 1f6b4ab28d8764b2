"""Browse and edit recorded demos: summaries, trim idle head/tail, mark the outcome, render a sheet or video."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gato_ros.demos.bag import (
    DemoError, _read_messages, custom_data, list_episodes,
    read_episode_with_times, read_outcome, replace_bag,
)
from gato_ros.episode import Episode
from gato_ros.interfaces import CAMERA_TOPIC, COMMAND_TOPIC, JOINT_STATES_TOPIC


@dataclass(frozen=True)
class DemoSummary:
    """One line of `gato-ros demos list`."""

    path: str
    steps: int
    duration_s: float
    success: bool | None
    instruction: str
    source: str
    image_size: str
    error: str = ""


def summarize(path: str | Path) -> DemoSummary:
    """Summary of one demo (DemoError if it is unreadable)."""
    ep, times = read_episode_with_times(path)
    duration = float(times[-1] - times[0]) / 1e9 if len(times) > 1 else 0.0
    h, w = ep.images.shape[1:3]
    return DemoSummary(str(path), len(ep), round(duration, 3), ep.success, ep.instruction, ep.source, f"{w}x{h}")


def list_demos(root: str | Path) -> list[DemoSummary]:
    """Summaries of every demo under `root`; unreadable ones are listed with their error."""
    out = []
    for path in list_episodes(root):
        try:
            out.append(summarize(path))
        except DemoError as exc:
            out.append(DemoSummary(str(path), 0, 0.0, None, "", "", "", error=str(exc)))
    return out


def format_table(rows: list[DemoSummary]) -> str:
    """A plain-text table of demo summaries."""
    lines = [f"{'demo':40s} {'steps':>6s} {'secs':>7s} {'success':>8s} {'source':>10s}  instruction"]
    for r in rows:
        name = Path(r.path).name
        if r.error:
            lines.append(f"{name:40s} ERROR {r.error}")
            continue
        lines.append(f"{name:40s} {r.steps:6d} {r.duration_s:7.2f} {str(r.success):>8s} {r.source:>10s}  "
                     f"{r.instruction}")
    ok = [r for r in rows if not r.error]
    marked = [r for r in ok if r.success is not None]
    lines.append(f"{len(rows)} demos, {sum(r.steps for r in ok)} steps, "
                 f"{sum(bool(r.success) for r in marked)}/{len(marked)} marked successful")
    return "\n".join(lines)


def show(path: str | Path) -> dict[str, Any]:
    """Details of one demo: summary, topic counts, outcome, metadata, effort and joint ranges."""
    from rosbags.rosbag2 import Reader

    path = Path(path)
    s = summarize(path)
    with Reader(path) as reader:
        counts = {c.topic: c.msgcount for c in reader.connections}
    ep, _ = read_episode_with_times(path)
    return {
        **asdict(s),
        "topics": counts,
        "outcome": read_outcome(path),
        "metadata": custom_data(path),
        "action_min": np.round(ep.actions.min(0), 3).tolist(),
        "action_max": np.round(ep.actions.max(0), 3).tolist(),
        "gripper_position_range": [round(float(ep.joint_positions[:, 7].min()), 3),
                                   round(float(ep.joint_positions[:, 7].max()), 3)],
    }


# ----------------------------------------------------------------------------------------------- trim


def active_bounds(ep: Episode, velocity_threshold: float = 0.02, margin: int = 2) -> tuple[int, int]:
    """[start, stop) around the steps where the arm moves (any arm |qd| above the threshold, rad/s) or the
    gripper command changes, widened by `margin` steps; DemoError when the whole episode is idle."""
    moving = np.abs(ep.joint_velocities[:, :7]).max(axis=1) > velocity_threshold
    grip = np.r_[False, np.abs(np.diff(ep.actions[:, 7])) > 1e-3]
    active = np.flatnonzero(moving | grip)
    if len(active) == 0:
        raise DemoError("the episode is idle throughout (the arm never moves): nothing to keep")
    return max(0, int(active[0]) - margin), min(len(ep), int(active[-1]) + 1 + margin)


def trim(path: str | Path, start: int | None = None, stop: int | None = None, velocity_threshold: float = 0.02,
         margin: int = 2) -> tuple[int, int, int]:
    """Keep steps [start, stop) (default: the active part, see `active_bounds`); rewrites the demo in place.

    Returns (start, stop, old length). Each kept step keeps its image and joint state.
    """
    path = Path(path)
    ep, times = read_episode_with_times(path)
    n = len(ep)
    a, b = active_bounds(ep, velocity_threshold, margin) if start is None and stop is None else (0, n)
    start = a if start is None else start
    stop = b if stop is None else stop
    if not 0 <= start < stop <= n:
        raise DemoError(f"trim range [{start}, {stop}) is not within the episode's {n} steps")
    m = _read_messages(path)
    t0, t1 = int(times[start]), int(times[stop - 1])
    first = {}
    for topic, stamps in ((CAMERA_TOPIC, [t for t, _ in m.images]), (JOINT_STATES_TOPIC, [t for t, _ in m.joints])):
        before = [t for t in stamps if t <= t0]
        first[topic] = max(before) if before else t0

    def keep(topic: str, t: int) -> bool:
        if topic == COMMAND_TOPIC:
            return t0 <= t <= t1
        if topic in first:
            return first[topic] <= t <= t1
        return True  # instruction, outcome

    replace_bag(path, keep, custom={"trimmed_from_steps": str(n)})
    return start, stop, n


def mark(path: str | Path, success: bool, note: str = "") -> dict:
    """Set the demo's outcome (rewrites /gato/outcome); returns the new outcome."""
    path = Path(path)
    outcome = {**read_outcome(path), "success": bool(success), "marked_by": "operator"}
    if note:
        outcome["note"] = note
    replace_bag(path, outcome=outcome)
    return outcome


# ----------------------------------------------------------------------------------------------- render


def _frame(img: np.ndarray, scale: int, label: str) -> np.ndarray:
    import cv2

    big = np.repeat(np.repeat(img, scale, axis=0), scale, axis=1).copy()
    cv2.putText(big, label, (2, 10), cv2.FONT_HERSHEY_SIMPLEX, 0.3, (255, 255, 255), 1, cv2.LINE_AA)
    return big


def render(path: str | Path, out: str | Path, frames: int = 24, columns: int = 8, scale: int = 2) -> Path:
    """A contact sheet (.png/.jpg: `frames` evenly spaced steps) or a video (.mp4/.avi: every step)."""
    import cv2

    ep, _ = read_episode_with_times(path)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    suffix = out.suffix.lower()
    if suffix in (".png", ".jpg", ".jpeg"):
        idx = np.unique(np.linspace(0, len(ep) - 1, min(frames, len(ep))).round().astype(int))
        tiles = [_frame(ep.images[i], scale, str(i)) for i in idx]
        rows = -(-len(tiles) // columns)
        tiles += [np.zeros_like(tiles[0])] * (rows * columns - len(tiles))
        sheet = np.concatenate([np.concatenate(tiles[r * columns:(r + 1) * columns], axis=1) for r in range(rows)])
        if not cv2.imwrite(str(out), sheet[..., ::-1]):
            raise DemoError(f"could not write {out}")
        return out
    if suffix in (".mp4", ".avi"):
        h, w = ep.images.shape[1] * scale, ep.images.shape[2] * scale
        fourcc = cv2.VideoWriter_fourcc(*("mp4v" if suffix == ".mp4" else "MJPG"))
        writer = cv2.VideoWriter(str(out), fourcc, float(ep.control_rate_hz), (w, h))
        if not writer.isOpened():
            raise DemoError(f"OpenCV cannot write {suffix} video to {out}")
        for i, img in enumerate(ep.images):
            writer.write(_frame(img, scale, str(i))[..., ::-1])
        writer.release()
        return out
    raise DemoError(f"render to .png/.jpg (contact sheet) or .mp4/.avi (video), not {out.name!r}")


def to_json(obj: Any) -> str:
    return json.dumps(obj, indent=2, default=str)
