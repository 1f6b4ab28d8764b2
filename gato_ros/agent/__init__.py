"""Pure logic of the agent node: config, joint layout, input staleness, latency stats, model lookup.

The node: gato_ros.nodes.agent. Image messages are decoded by gato_ros.interfaces.image_msg_to_rgb."""

from gato_ros.agent.config import AgentConfig, AgentConfigError
from gato_ros.agent.inputs import EpisodeClock, InputAge, ModelInputs, stale_reason
from gato_ros.latency import LatencyStats
from gato_ros.agent.model_dir import ModelDirError, resolve_model_dir

__all__ = [
    "AgentConfig", "AgentConfigError", "EpisodeClock", "InputAge", "ModelInputs",
    "stale_reason", "LatencyStats", "ModelDirError", "resolve_model_dir",
]
