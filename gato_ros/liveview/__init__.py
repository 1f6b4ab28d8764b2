"""The live view: the foxglove node's config, channel payloads and Foxglove bridge (the node:
gato_ros.nodes.foxglove_view), the shipped Foxglove layout, and the terminal status line of `gato-ros run`."""

from gato_ros.liveview.bridge import JSON_CHANNELS, FoxgloveBridge
from gato_ros.liveview.channels import (
    AGENT_CHANNEL, EPISODE_CHANNEL, OBJECTS_CHANNEL, SAFETY_CHANNEL, SAFETY_MODES, TF_CHANNEL, WORLD_FRAME, RateLimiter,
    RateMeter, Transform, agent_payload, efforts_payload, episode_payload, joints_payload, link_transforms,
    object_boxes, quat_xyzw, safety_payload, status_node,
)
from gato_ros.liveview.config import FoxgloveConfig, LiveViewError

__all__ = [
    "AGENT_CHANNEL", "EPISODE_CHANNEL", "JSON_CHANNELS", "OBJECTS_CHANNEL", "SAFETY_CHANNEL", "SAFETY_MODES",
    "TF_CHANNEL", "WORLD_FRAME", "FoxgloveBridge", "FoxgloveConfig", "LiveViewError", "RateLimiter", "RateMeter",
    "Transform", "agent_payload", "efforts_payload", "episode_payload", "joints_payload", "link_transforms",
    "object_boxes", "quat_xyzw", "safety_payload", "status_node",
]
