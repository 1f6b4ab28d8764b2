"""JointStateMerger: /joint_states messages (any order, possibly partial, e.g. arm and gripper apart) -> full state."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


class JointStateError(ValueError):
    """A joint-state message cannot be used (mismatched array lengths, no velocities, NaN)."""


class JointStateStampError(JointStateError):
    """A joint-state message is stamped earlier than the previous one of the same joint (implausible)."""


@dataclass(frozen=True)
class MergeResult:
    """What one message did: names it did not know, and whether a full state is now available."""

    unknown: tuple[str, ...]
    complete: bool


class JointStateMerger:
    """Keeps the newest position/velocity and receive time of every joint in `joint_names`."""

    def __init__(self, joint_names: Sequence[str]) -> None:
        self.joint_names = tuple(joint_names)
        self._index = {name: i for i, name in enumerate(self.joint_names)}
        n = len(self.joint_names)
        self.q = np.zeros(n)
        self.qd = np.zeros(n)
        self.stamp = np.full(n, -math.inf)
        self.header_stamp = np.full(n, -math.inf)  # newest header stamp per joint (0 = unset, not checked)

    def update(self, names: Sequence[str], positions: Sequence[float], velocities: Sequence[float],
               t: float, header_stamp: float = 0.0) -> MergeResult:
        """Take one message received at `t`; raises JointStateError (nothing taken) when it is malformed, and
        JointStateStampError when its header stamp (seconds, 0 = unset) is earlier than a joint's previous one
        (the new stamp is remembered, so one step back refuses one message)."""
        names = list(names)
        if len(positions) != len(names):
            raise JointStateError(f"{len(names)} names but {len(positions)} positions")
        if len(velocities) != len(names):
            raise JointStateError(f"{len(names)} names but {len(velocities)} velocities (velocities are required)")
        pos = np.asarray(positions, dtype=np.float64)
        vel = np.asarray(velocities, dtype=np.float64)
        known = [(i, self._index[n]) for i, n in enumerate(names) if n in self._index]
        if known:
            src = np.array([k[0] for k in known])
            dst = np.array([k[1] for k in known])
            if not (np.all(np.isfinite(pos[src])) and np.all(np.isfinite(vel[src]))):
                raise JointStateError("NaN/inf in positions or velocities of controlled joints")
            if header_stamp > 0:
                previous = self.header_stamp[dst]
                self.header_stamp[dst] = header_stamp
                back = previous > header_stamp
                if np.any(back):
                    raise JointStateStampError(
                        f"joint state stamp {header_stamp:.6f} s is "
                        f"{float(np.max(previous[back])) - header_stamp:.6f} s "
                        f"earlier than the previous one for {[self.joint_names[i] for i in dst[back]]}")
            self.q[dst] = pos[src]
            self.qd[dst] = vel[src]
            self.stamp[dst] = t
        unknown = tuple(n for n in names if n not in self._index)
        return MergeResult(unknown=unknown, complete=bool(np.all(np.isfinite(self.stamp))))

    def missing(self) -> tuple[str, ...]:
        """Joints never seen in any message."""
        return tuple(n for n, s in zip(self.joint_names, self.stamp) if not np.isfinite(s))

    def oldest(self) -> float:
        """Receive time of the stalest joint (-inf while any joint was never seen)."""
        return float(np.min(self.stamp))

    def stale(self, t: float, timeout: float) -> tuple[str, ...]:
        """Joints whose newest value is older than `timeout` at time `t`."""
        return tuple(n for n, s in zip(self.joint_names, self.stamp) if t - s > timeout)
