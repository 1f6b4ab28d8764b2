"""The Gato network (one file: gato.py)."""

from gato_ros.model.gato import (CONFIGS, Gato, GatoModelConfig, action_logits_mask, hl_gauss_targets,
                                 load_checkpoint, param_count, restrict_to_actions, save_checkpoint, value_logits)

__all__ = ["CONFIGS", "Gato", "GatoModelConfig", "action_logits_mask", "hl_gauss_targets", "load_checkpoint",
           "param_count", "restrict_to_actions", "save_checkpoint", "value_logits"]
