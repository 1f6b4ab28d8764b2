"""Errors the runtime raises, each with a message that says what is wrong and how to fix it."""

from __future__ import annotations


class RuntimeModelError(Exception):
    """Base class of gato_ros.runtime errors."""


class ModelLoadError(RuntimeModelError):
    """A model directory cannot be used: missing/corrupt ONNX or gato.json, or the two disagree."""


class InputShapeError(RuntimeModelError, ValueError):
    """An observation given to the policy has the wrong shape, dtype or values."""


class ProviderError(RuntimeModelError):
    """The requested ONNX Runtime execution provider cannot be used."""


class ContextOverflowError(RuntimeModelError):
    """The pinned prompt plus one timestep does not fit in max_context_tokens."""
