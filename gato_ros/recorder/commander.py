"""Who commanded the arm: the announcements on /gato/commander and the label the recorder stores with an episode.

Every node that publishes /gato/effort_command announces itself once (latched JSON: its role, and for the agent
its model, prompt demo and instruction). The recorder attributes each recorded command to the node that published
it (the DDS publisher GID of the message, matched against the command topic's publishers) and labels the bag by
the roles of the nodes whose commands it holds, so an agent run is never stored as a teleop demo.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable

#: Roles a commanding node announces; the recorder's `source` parameter also accepts these to force a label.
SOURCES = ("teleop", "agent", "sim_expert")
#: The recorder's `source` value that labels episodes from the announcements.
AUTO = "auto"
#: Label of commands from a node that did not announce itself (e.g. `ros2 topic pub`, an unknown driver).
UNKNOWN = "unknown"
#: Label of an episode whose commands came from nodes of more than one role.
MIXED = "mixed"
#: Label of an episode without any recorded command.
NONE = "none"


class CommanderError(ValueError):
    """An announcement that is not a JSON object with a known `source` and a `node` name."""


@dataclass(frozen=True)
class Commander:
    """One node's announcement: its fully qualified node name, its role and details (model, prompt, ...)."""

    node: str
    source: str
    details: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({"node": self.node, "source": self.source, **self.details}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Commander":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CommanderError(f"announcement is not JSON: {text[:80]!r}") from exc
        if not isinstance(data, dict):
            raise CommanderError(f"announcement must be a JSON object, got {text[:80]!r}")
        node, source = data.pop("node", None), data.pop("source", None)
        if not isinstance(node, str) or not node.startswith("/"):
            raise CommanderError(f"announcement needs a fully qualified 'node' name, got {node!r}")
        if source not in SOURCES:
            raise CommanderError(f"announcement 'source' must be one of {SOURCES}, got {source!r}")
        return cls(node, source, {str(k): str(v) for k, v in data.items()})


def node_key(namespace: str, name: str) -> str:
    """The fully qualified node name ('/' + name in the root namespace)."""
    return f"{namespace.rstrip('/')}/{name}"


def gid_key(gid: Any) -> bytes:
    """A publisher GID as hashable bytes: rclpy's MessageInfo gives {'data': bytes}, the graph API a list of ints."""
    if isinstance(gid, dict):
        gid = gid.get("data", b"")
    return bytes(gid or b"")


def publisher_nodes(infos: Any) -> dict[bytes, str]:
    """{publisher GID: fully qualified node} of a topic's publishers (rclpy's get_publishers_info_by_topic)."""
    return {gid_key(i.endpoint_gid): node_key(i.node_namespace, i.node_name) for i in infos}


def read_announcement(text: str, warn: Callable[[str], None]) -> Commander | None:
    """An announcement message's Commander, or None after `warn`ing why it is ignored (a bad one loses nothing)."""
    try:
        return Commander.from_json(text)
    except CommanderError as exc:
        warn(f"ignored an announcement: {exc}")
        return None


#: Node name stored for commands whose publisher the graph never showed (it vanished before it was looked up).
UNRESOLVED_NODE = "?"


@dataclass
class CommandAttribution:
    """Counts of one episode's recorded commands per publisher GID; `label` turns them into the stored source."""

    counts: dict[bytes, int] = field(default_factory=dict)

    def add(self, gid: bytes) -> bool:
        """Count a command; True when its publisher is new to this episode (look its node up)."""
        self.counts[gid] = self.counts.get(gid, 0) + 1
        return self.counts[gid] == 1

    def by_node(self, nodes: dict[bytes, str]) -> dict[str, int]:
        """Commands per node name (`nodes`: publisher GID -> fully qualified node name)."""
        out: dict[str, int] = {}
        for gid, n in self.counts.items():
            node = nodes.get(gid, UNRESOLVED_NODE)
            out[node] = out.get(node, 0) + n
        return out

    def label(self, nodes: dict[bytes, str], announced: dict[str, Commander],
              declared: str = AUTO) -> tuple[str, dict[str, str]]:
        """(source, custom metadata) for the episode: `declared` (a fixed role) wins over the announcements.

        The metadata always lists the commanding nodes (`commanders`, JSON) so a forced label stays checkable; an
        episode commanded by exactly one agent also gets its `model`, `prompt_demo` and `agent_instruction`.
        """
        rows = []
        for node, n in sorted(self.by_node(nodes).items()):
            who = announced.get(node)
            rows.append({"node": node, "source": who.source if who else UNKNOWN, "commands": n,
                         **(who.details if who else {})})
        roles = sorted({r["source"] for r in rows})
        if declared != AUTO:
            source = declared
        else:
            source = roles[0] if len(roles) == 1 else MIXED if roles else NONE
        meta = {"commanders": json.dumps(rows, sort_keys=True)}
        agents = [r for r in rows if r["source"] == "agent"]
        if source == "agent" and len(agents) == 1:
            for key, stored in (("model", "model"), ("prompt_demo", "prompt_demo"),
                                ("instruction", "agent_instruction")):
                if key in agents[0]:
                    meta[stored] = str(agents[0][key])
        return source, meta
