"""A robot log for replay: joint states and the efforts applied, read from a rosbag2 episode (a real arm's log or
one of ours), and written by `excite` (a known excitation of the sim, the reference for testing the fit).

Efforts: /effort_controller/commands (what the safety node sent the arm) when the bag has them, else
/gato/effort_command (our demo bags, where the sim applied the command directly). Joint states: /joint_states,
reordered by name to the arm joints; message times are the bag's receive times.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gato_ros.interfaces import COMMAND_TOPIC, EFFORT_OUTPUT_TOPIC, JOINT_NAMES, JOINT_STATES_TOPIC

EFFORT_TOPICS = (EFFORT_OUTPUT_TOPIC, COMMAND_TOPIC)  # preference order


class LogError(ValueError):
    """A bag cannot be replayed (missing, unreadable, no joint states or efforts, wrong joints)."""


@dataclass(frozen=True)
class RobotLog:
    """Joint states [K] (t_state s from the first one, q, qd in JOINT_NAMES order) and efforts [C] (t_effort s,
    JOINT_NAMES order, held until the next)."""

    t_state: np.ndarray
    q: np.ndarray  # [K, 8]
    qd: np.ndarray  # [K, 8]
    t_effort: np.ndarray
    effort: np.ndarray  # [C, 8]
    effort_topic: str
    source: str

    @property
    def duration_s(self) -> float:
        return float(self.t_state[-1] - self.t_state[0])

    def effort_at(self, t: float) -> np.ndarray:
        """The effort in force at time `t` (the newest at or before it; zero before the first)."""
        i = int(np.searchsorted(self.t_effort, t + 1e-12, "right")) - 1
        return self.effort[i] if i >= 0 else np.zeros(self.effort.shape[1])


def _reorder(names: list[str], values: Any, what: str, path: Path) -> np.ndarray:
    index = {n: i for i, n in enumerate(names)}
    missing = [n for n in JOINT_NAMES if n not in index]
    if missing:
        raise LogError(f"{path}: {JOINT_STATES_TOPIC} lacks joints {missing} (has {names})")
    values = list(values)
    if len(values) != len(names):
        raise LogError(f"{path}: {JOINT_STATES_TOPIC} has {len(names)} names but {len(values)} {what}")
    return np.array([values[index[n]] for n in JOINT_NAMES], dtype=np.float64)


def read_log(path: str | Path) -> RobotLog:
    """The joint states and applied efforts of the rosbag2 episode at `path`."""
    from rosbags.rosbag2 import Reader
    from rosbags.typesys import Stores, get_typestore

    path = Path(path)
    if not (path / "metadata.yaml").is_file():
        raise LogError(f"{path} is not a rosbag2 directory (no metadata.yaml)")
    ts = get_typestore(Stores.ROS2_KILTED)
    states: list[tuple[int, np.ndarray, np.ndarray]] = []
    efforts: dict[str, list[tuple[int, np.ndarray]]] = {t: [] for t in EFFORT_TOPICS}
    try:
        with Reader(path) as reader:
            conns = [c for c in reader.connections if c.topic in (JOINT_STATES_TOPIC, *EFFORT_TOPICS)]
            for conn, t_ns, raw in reader.messages(connections=conns):
                msg = ts.deserialize_cdr(raw, conn.msgtype)
                if conn.topic == JOINT_STATES_TOPIC:
                    names = list(msg.name)
                    states.append((t_ns, _reorder(names, msg.position, "positions", path),
                                   _reorder(names, msg.velocity, "velocities", path)))
                else:
                    efforts[conn.topic].append((t_ns, np.asarray(msg.data, dtype=np.float64)))
    except LogError:
        raise
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bag we cannot use
        raise LogError(f"{path} is not a readable rosbag2 bag: {type(exc).__name__}: {exc}") from exc
    topic = next((t for t in EFFORT_TOPICS if efforts[t]), None)
    if len(states) < 2 or topic is None:
        raise LogError(f"{path}: needs {JOINT_STATES_TOPIC} and one of {EFFORT_TOPICS}; has {len(states)} joint "
                       f"states and {sum(len(v) for v in efforts.values())} effort messages")
    bad = [len(e) for _, e in efforts[topic] if len(e) != len(JOINT_NAMES)]
    if bad:
        raise LogError(f"{path}: {topic} messages must have {len(JOINT_NAMES)} efforts ({JOINT_NAMES}), got {bad[0]}")
    t0 = states[0][0]
    return RobotLog(
        t_state=np.array([(t - t0) * 1e-9 for t, _, _ in states]), q=np.stack([q for _, q, _ in states]),
        qd=np.stack([qd for _, _, qd in states]), t_effort=np.array([(t - t0) * 1e-9 for t, _ in efforts[topic]]),
        effort=np.stack([e for _, e in efforts[topic]]), effort_topic=topic, source=str(path))


def write_log(path: str | Path, t_state: np.ndarray, q: np.ndarray, qd: np.ndarray, effort: np.ndarray,
              source: str = "sim_excitation") -> Path:
    """A bag with one joint state per row and the effort applied from it until the next row (1 ns later)."""
    from gato_ros.demos.bag import EpisodeBagWriter

    with EpisodeBagWriter(path, "", source, control_rate_hz=round(1.0 / float(np.median(np.diff(t_state))), 3),
                          task="sim2real_log") as w:
        for t, qi, qdi, u in zip(t_state, q, qd, effort):
            t_ns = 1_000_000 + int(round(t * 1e9))
            w.joint_state(list(JOINT_NAMES), qi, qdi, u, t_ns)
            w.command(u, t_ns + 1)
        w.close()
    return Path(path)

