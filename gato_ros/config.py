"""`gato.json`: the one description of a model's vocabulary, tokenizer, robot layout and network.

Training writes it, export copies it next to the ONNX graphs, and the agent node reads it.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gato_ros import JOINT_NAMES

FORMAT_VERSION = 1


class ConfigError(ValueError):
    """A gato.json (or YAML config) that is missing, malformed, or has unknown keys."""


@dataclass(frozen=True)
class VocabConfig:
    """One shared id space: text, then continuous bins, then special tokens (GATO.md)."""

    text_size: int = 32000
    num_bins: int = 1024
    continuous_offset: int = 32000
    separator_id: int = 33024
    pad_id: int = 33025
    vocab_size: int = 33026


@dataclass(frozen=True)
class TokenizerConfig:
    """Paper constants plus this project's choices (image size, camera, which fields get mu-law)."""

    mu: float = 100.0
    M: float = 256.0
    patch_size: int = 16
    image_height: int = 64
    image_width: int = 64
    num_pos_bins: int = 128
    text_model: str = "tokenizer/gato_text.model"  # relative to the model directory
    max_text_tokens: int = 32
    proprio_mu_law: bool = True
    action_mu_law: bool = False
    camera: str = "basket_front_left"

    @property
    def image_size(self) -> tuple[int, int]:
        return (self.image_height, self.image_width)


@dataclass(frozen=True)
class RobotConfig:
    """Action layout: efforts in `joint_names` order, divided by `action_scale` before tokenizing."""

    joint_names: tuple[str, ...] = JOINT_NAMES
    action_scale: tuple[float, ...] = (80.0, 80.0, 40.0, 40.0, 9.0, 9.0, 9.0, 1.0)

    def __post_init__(self) -> None:
        if len(self.joint_names) != len(self.action_scale):
            raise ConfigError(f"robot: {len(self.joint_names)} joint_names but {len(self.action_scale)} action_scale")
        if any(s <= 0 for s in self.action_scale):
            raise ConfigError(f"robot.action_scale must be positive, got {self.action_scale}")


@dataclass(frozen=True)
class GatoConfig:
    """Everything needed to tokenize for, run, and decode the actions of one model."""

    vocab: VocabConfig = field(default_factory=VocabConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    robot: RobotConfig = field(default_factory=RobotConfig)
    model: dict[str, Any] = field(default_factory=dict)  # network hyperparameters and graph files
    control_rate_hz: float = 20.0
    format_version: int = FORMAT_VERSION

    @property
    def num_actions(self) -> int:
        return len(self.robot.joint_names)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "GatoConfig":
        if not isinstance(data, dict):
            raise ConfigError(f"gato config must be a JSON object, got {type(data).__name__}")
        _check_keys("gato.json", data, cls)
        version = data.get("format_version", FORMAT_VERSION)
        if version != FORMAT_VERSION:
            raise ConfigError(f"gato.json format_version {version} is not supported (this is {FORMAT_VERSION})")
        model = data.get("model", {})
        if not isinstance(model, dict):
            raise ConfigError("gato.json 'model' must be an object")
        return cls(
            vocab=_section(VocabConfig, data.get("vocab", {}), "vocab"),
            tokenizer=_section(TokenizerConfig, data.get("tokenizer", {}), "tokenizer"),
            robot=_section(RobotConfig, data.get("robot", {}), "robot"),
            model=dict(model),
            control_rate_hz=float(data.get("control_rate_hz", 20.0)),
            format_version=version,
        )

    @classmethod
    def load(cls, path: str | Path) -> "GatoConfig":
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError as exc:
            raise ConfigError(f"{path} does not exist") from exc
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path} is not valid JSON: {exc}") from exc
        return cls.from_dict(data)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")


def default_config(**model: Any) -> GatoConfig:
    """The project's default layout; `model` fills the network section."""
    return GatoConfig(model=dict(model))


def _check_keys(where: str, data: dict[str, Any], cls: type) -> None:
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown keys {unknown}; known: {sorted(known)}")


def _section(cls: type, data: Any, name: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"gato.json '{name}' must be an object")
    _check_keys(f"gato.json '{name}'", data, cls)
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    try:
        return cls(**values)
    except TypeError as exc:
        raise ConfigError(f"gato.json '{name}': {exc}") from exc
