"""Recording demonstrations: the recorder node's config and decisions (the node: gato_ros.nodes.recorder)."""

from gato_ros.recorder.commander import (
    AUTO, MIXED, SOURCES, UNKNOWN, CommandAttribution, Commander, CommanderError, gid_key, node_key, publisher_nodes,
    read_announcement,
)
from gato_ros.recorder.config import RecorderConfig, RecorderError
from gato_ros.recorder.episodes import SimEpisode, decide_outcome, episode_dir, parse_sim_diagnostics

__all__ = ["AUTO", "MIXED", "SOURCES", "UNKNOWN", "CommandAttribution", "Commander", "CommanderError", "gid_key",
           "node_key", "publisher_nodes", "read_announcement", "RecorderConfig", "RecorderError", "SimEpisode",
           "decide_outcome", "episode_dir", "parse_sim_diagnostics"]
