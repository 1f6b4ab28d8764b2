"""Shadow mode: the agent's commands run through the safety filter but never reach the arm.

`SafetyFilters` is what the safety node feeds: the live SafetyFilter (the arm's output) and, with `shadow` on, a
second SafetyFilter of the same configuration (its own state: rate-limit ramp, latches, command age) that takes the
agent's commands. Both see the same joint states, e-stops, resets and faults of the shared inputs, so the shadow
output is what the arm would have received. Nothing of the shadow filter flows back: the live output is exactly what
a plain SafetyFilter fed only the operator's commands would give (hold, or the operator's filtered command).

`CommandRouter` says which filter a command goes to, from its publisher (DDS publisher GID -> node name, and that
node's /gato/commander announcement, gato_ros.recorder.commander): only a node announced as an operator (teleop)
reaches the live filter; the agent, an unannounced publisher or one not yet looked up goes to the shadow filter (in
doubt, the arm does not get it).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gato_ros.safety.config import SafetyConfig
from gato_ros.safety.filter import Mode, RobotLimits, SafetyFilter

#: Announced roles (gato_ros.recorder.commander.SOURCES) whose commands reach the arm in shadow mode: a human
#: operator, or the scripted expert standing in for one.
OPERATOR_SOURCES = ("teleop", "sim_expert")


class CommandRouter:
    """Publisher GID -> node -> announced role; `is_operator(gid)` is true only for a node announced as an operator."""

    def __init__(self) -> None:
        self.roles: dict[str, str] = {}  # fully qualified node name -> announced source
        self.nodes: dict[bytes, str] = {}  # publisher GID -> fully qualified node name
        self._looked_up: float = -np.inf

    def announce(self, node: str, source: str) -> None:
        """A /gato/commander announcement: `node` commands as `source`."""
        self.roles[node] = source

    def publishers(self, nodes: dict[bytes, str]) -> None:
        """Current publishers of the command topic (GID -> node), from the ROS graph; remembered after they leave."""
        self.nodes.update(nodes)

    def needs_lookup(self, gid: bytes, t: float, period_s: float = 0.5) -> bool:
        """True when `gid` is unknown and the graph was last asked more than `period_s` ago (the caller asks it now)."""
        if gid in self.nodes or t - self._looked_up < period_s:
            return False
        self._looked_up = t
        return True

    def is_operator(self, gid: bytes) -> bool:
        return self.roles.get(self.nodes.get(gid, ""), "") in OPERATOR_SOURCES

    def role(self, gid: bytes) -> str:
        """The announced role of the publisher, 'unannounced' or 'unresolved' (not in the graph yet)."""
        node = self.nodes.get(gid)
        if node is None:
            return "unresolved"
        return self.roles.get(node, "unannounced")


class SafetyFilters:
    """The live filter and, in shadow mode, the shadow filter: inputs fan out, commands go to one of them."""

    def __init__(self, robot: RobotLimits, config: SafetyConfig) -> None:
        self.live = SafetyFilter(robot, config)
        self.shadow = SafetyFilter(robot, config) if config.shadow else None
        self.routed: dict[str, int] = {}  # shadow mode: commands per route and publisher role (diagnostics)

    # ----------------------------------------------------------------- inputs shared by both filters

    def command(self, efforts: Any, t: float, operator: bool = True, role: str = "") -> bool:
        """A requested effort vector: to the live filter, unless shadow mode is on and it is not an operator's."""
        if self.shadow is None:
            return self.live.command(efforts, t)
        route = "live" if operator else "shadow"
        key = f"{route}_commands_{role}" if role else f"{route}_commands"
        self.routed[key] = self.routed.get(key, 0) + 1
        return (self.live if operator else self.shadow).command(efforts, t)

    def joint_state(self, q: Any, qd: Any, t: float) -> bool:
        if self.shadow is not None:
            self.shadow.joint_state(q, qd, t)
        return self.live.joint_state(q, qd, t)

    def implausible(self, reason: str, t: float) -> None:
        if self.shadow is not None:
            self.shadow.implausible(reason, t)
        self.live.implausible(reason, t)

    def estop(self, reason: str = "e-stop requested") -> None:
        if self.shadow is not None:
            self.shadow.estop(reason)
        self.live.estop(reason)

    def fault(self, reason: str, t: float) -> None:
        """A fault of the node or a shared input: both filters hold."""
        if self.shadow is not None:
            self.shadow.fault(reason, t)
        self.live.fault(reason, t)

    def shadow_fault(self, reason: str, t: float) -> None:
        """A fault of the shadow path alone: the shadow filter holds, the live one is not touched."""
        if self.shadow is not None:
            self.shadow.fault(reason, t)

    def reset(self) -> str:
        if self.shadow is not None:
            self.shadow.reset()
        return self.live.reset()

    def note(self, kind: str, reason: str) -> None:
        self.live.note(kind, reason)

    # ----------------------------------------------------------------- outputs

    @property
    def config(self) -> SafetyConfig:
        return self.live.config

    @property
    def counts(self) -> Any:
        """The live filter's intervention counts."""
        return self.live.counts

    @property
    def last_reason(self) -> str:
        return self.live.last_reason

    @property
    def estopped(self) -> bool:
        return self.live.estopped

    @property
    def mode(self) -> Mode:
        return self.live.mode

    @property
    def limits(self) -> Any:
        return self.live.limits

    def output(self, t: float) -> tuple[np.ndarray, Mode, tuple[str, ...]]:
        """The arm's efforts (the live filter's)."""
        return self.live.output(t)

    def shadow_output(self, t: float) -> tuple[np.ndarray, Mode, tuple[str, ...]] | None:
        """What the agent's command would have given the arm at `t`; None when shadow mode is off."""
        return None if self.shadow is None else self.shadow.output(t)

    def status(self) -> dict[str, Any]:
        """The live filter's status; in shadow mode also the shadow filter's mode, reason and interventions."""
        out = {**self.live.status(), "shadow": self.shadow is not None}
        if self.shadow is not None:
            shadow = self.shadow.status()
            out.update({"shadow_mode": shadow["mode"], "shadow_reason": shadow["reason"],
                        "shadow_interventions": shadow["interventions"], **dict(sorted(self.routed.items()))})
        return out
