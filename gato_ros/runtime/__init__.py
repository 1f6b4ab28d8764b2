"""ONNX Runtime policy the agent node runs: KV cache, pinned prompt, sliding window, provider choice."""

from gato_ros.runtime.errors import (
    ContextOverflowError, InputShapeError, ModelLoadError, ProviderError, RuntimeModelError,
)
from gato_ros.runtime.policy import GatoPolicy
from gato_ros.runtime.providers import open_sessions
from gato_ros.runtime.window import TimestepWindow

__all__ = ["GatoPolicy", "ModelLoadError", "InputShapeError", "ProviderError", "ContextOverflowError",
           "RuntimeModelError", "TimestepWindow", "open_sessions"]
