"""Model directories from a training checkpoint or from a randomly initialised config (benches, demos)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch

from gato_ros.export.onnx_export import ExportError, write_model_dir
from gato_ros.robot.registry import DEFAULT_ROBOT


def find_sp_model(config: Any, near: list[Path]) -> Path | None:
    """The SentencePiece model gato.json names (tokenizer settings), looked up next to the checkpoint, then in
    models/."""
    from gato_ros import paths

    name = getattr(getattr(config, "tokenizer", None), "text_model", None)
    names = [name] if name else []
    roots = [*near, paths.models_dir()]
    for name in names:
        if Path(name).is_file():
            return Path(name)
        for root in roots:
            for cand in (root / name, *root.glob(f"*/{Path(name).name}")):
                if cand.is_file():
                    return cand
    if names:
        raise ExportError(f"SentencePiece model {names[0]} named in gato.json not found in {[str(r) for r in roots]}; "
                          "pass --sp-model PATH")
    return None


def export_checkpoint(checkpoint: Path, out_dir: Path, *, precision: str = "fp32",
                      sp_model: Path | None = None) -> Path:
    """Export a `gato-ros train` checkpoint."""
    from gato_ros.model.gato import load_checkpoint

    if not Path(checkpoint).exists():
        raise ExportError(f"checkpoint {checkpoint} not found")
    model, config, _ = load_checkpoint(checkpoint)
    model_cfg = getattr(model, "config", None) or getattr(model, "cfg", None)
    sp = sp_model or find_sp_model(config, [Path(checkpoint).parent])
    return write_model_dir(model, config, out_dir, precision=precision, sp_model=sp, model_cfg=model_cfg)


def random_model(config_name: str, seed: int = 0) -> tuple[torch.nn.Module, Any]:
    """A randomly initialised Gato of a named config (CONFIGS) and that config."""
    from gato_ros.model.gato import CONFIGS, Gato

    if config_name not in CONFIGS:
        raise ExportError(f"unknown model config {config_name!r}; choose from {sorted(CONFIGS)}")
    torch.manual_seed(seed)
    model_cfg = CONFIGS[config_name]
    return Gato(model_cfg).eval(), model_cfg


def export_random(config_name: str, out_dir: Path, *, precision: str = "fp32", seed: int = 0,
                  sp_model: Path | None = None, robot: str = DEFAULT_ROBOT) -> Path:
    """Export a randomly initialised model with the default gato.json (tokenizer, vocabulary) for registry arm
    `robot` (an untrained model to bring up a graph with: it never stacks)."""
    from gato_ros.config import RobotConfig, default_config

    model, model_cfg = random_model(config_name, seed)
    config = dataclasses.replace(default_config(), robot=RobotConfig.for_robot(robot))
    config = dataclasses.replace(config, model={**dict(config.model or {}), "name": config_name,
                                                "random_init_seed": seed})  # marks an untrained model
    sp = sp_model or find_sp_model(config, [])
    return write_model_dir(model, config, out_dir, precision=precision, sp_model=sp, model_cfg=model_cfg)
