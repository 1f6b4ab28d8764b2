"""Pure logic of the agent node: config, image conversion, input staleness, latency stats, model lookup."""

from gato_ros.agent.config import AgentConfig, AgentConfigError
from gato_ros.agent.image import ImageFormatError, image_to_rgb
from gato_ros.agent.inputs import EpisodeClock, InputAge, ModelInputs, stale_reason
from gato_ros.agent.latency import LatencyStats
from gato_ros.agent.model_dir import ModelDirError, resolve_model_dir

__all__ = [
    "AgentConfig", "AgentConfigError", "ImageFormatError", "image_to_rgb", "EpisodeClock", "InputAge", "ModelInputs",
    "stale_reason", "LatencyStats", "ModelDirError", "resolve_model_dir",
]
