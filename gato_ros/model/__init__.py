"""The Gato network (one file: gato.py)."""

from gato_ros.model.gato import CONFIGS, Gato, GatoModelConfig, load_checkpoint, param_count, save_checkpoint

__all__ = ["CONFIGS", "Gato", "GatoModelConfig", "load_checkpoint", "param_count", "save_checkpoint"]
