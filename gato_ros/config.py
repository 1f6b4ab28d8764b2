"""`gato.json`: the one description of a model's vocabulary, tokenizer, robot layout and network.

Training writes it, export copies it next to the ONNX graphs, and the agent node reads it. Loading is
strict: unknown keys, missing keys, wrong types and inconsistent values raise `ConfigError`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import typing
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from gato_ros.interfaces import (CARTESIAN_COMMAND_NAMES, CARTESIAN_MAX_STEP, CARTESIAN_MAX_TURN, JOINT_NAMES,
                                 OBJECT_FRAMES)
from gato_ros.robot.registry import DEFAULT_ROBOT, load_robot

FORMAT_VERSION = 3  # 2: object_state/use_image/action_positions/decoding, gripper action_scale 2, effort_limit
#                    3: tokenizer.gripper_decoding (a version-2 file reads as 3 with the gripper decoded like the arm)
DECODING_MODES = ("argmax", "expected", "median", "mode")  # how an action value is read from its 1024-bin distribution
ACTION_SPACES = ("effort", "cartesian")  # what a model's actions are: joint efforts or Cartesian commands
PROVIDERS = ("auto", "cpu", "cuda")  # ONNX Runtime execution providers a model runs on (auto: CUDA if it works)
PRECISIONS = ("fp32", "int8", "int4")  # weights of an exported model's graphs (gato_ros.export.onnx_export.quantize)


class ConfigError(ValueError):
    """A gato.json (or YAML config) that is missing, malformed, has unknown/missing keys or bad values."""


@dataclass(frozen=True)
class VocabConfig:
    """One shared id space: text [0, text_size), continuous bins from continuous_offset, then specials (GATO.md)."""

    text_size: int = 32000
    num_bins: int = 1024
    continuous_offset: int = 32000
    separator_id: int = 33024
    pad_id: int = 33025
    vocab_size: int = 33026

    def __post_init__(self) -> None:
        _check_types("vocab", self)
        for name in ("text_size", "num_bins", "vocab_size"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"vocab.{name} must be positive, got {getattr(self, name)}")
        end = self.continuous_offset + self.num_bins
        if self.continuous_offset < self.text_size:
            raise ConfigError(f"vocab: continuous ids start at {self.continuous_offset}, inside the text range "
                              f"[0, {self.text_size})")
        for name in ("separator_id", "pad_id"):
            value = getattr(self, name)
            if self.continuous_offset <= value < end or value < self.text_size:
                raise ConfigError(f"vocab.{name}={value} collides with text [0, {self.text_size}) or continuous "
                                  f"[{self.continuous_offset}, {end}) ids")
            if value >= self.vocab_size:
                raise ConfigError(f"vocab.{name}={value} is not below vocab_size={self.vocab_size}")
        if self.separator_id == self.pad_id:
            raise ConfigError(f"vocab: separator_id and pad_id are both {self.pad_id}")
        if end > self.vocab_size:
            raise ConfigError(f"vocab: continuous ids end at {end}, beyond vocab_size={self.vocab_size}")


@dataclass(frozen=True)
class TokenizerConfig:
    """Paper constants plus this project's choices (image size, camera, which fields get mu-law)."""

    mu: float = 100.0
    M: float = 256.0
    patch_size: int = 16
    image_height: int = 64
    image_width: int = 64
    num_pos_bins: int = 128
    text_model: str = "tokenizer/gato_text.model"  # relative to the model directory (or models_dir())
    max_text_tokens: int = 32
    proprio_mu_law: bool = True
    action_mu_law: bool = False
    camera: str = "basket_front_left"
    use_image: bool = True          # image patches in the observation block
    object_state: bool = False      # the 21 object-pose values (gato_ros.observation) after proprio
    kinematics: bool = False        # then 21 pinch-pose / relative-position values by FK (docs/MODEL.md)
    velocities: bool = True         # false: no joint or pinch velocities in the tokens (copycat; docs/MODEL.md)
    joint_velocities: bool = True   # false: no arm joint velocities, the pinch velocity kept (docs/MODEL.md)
    object_frame: str = "body"      # object poses of each body frame or grasp frame (interfaces.OBJECT_FRAMES)
    grasp_alignment: bool = False   # 2 more kinematic values: the wrist turn to red's x axis (docs/MODEL.md)
    object_extents: bool = False    # 9 object half-size values after the object poses (interfaces.OBJECT_EXTENTS_SIZE)
    action_positions: bool = True   # action tokens carry their dimension index (docs/MODEL.md: not in the paper)
    decoding: str = "expected"      # arm: argmax | expected | median | mode over the 1024 value bins (docs/MODEL.md)
    gripper_decoding: str = "expected"  # the gripper command (last action): a +-1 switch, so a mean can land mid-way

    def __post_init__(self) -> None:
        _check_types("tokenizer", self)
        for name in ("decoding", "gripper_decoding"):
            if getattr(self, name) not in DECODING_MODES:
                raise ConfigError(f"tokenizer.{name} must be one of {list(DECODING_MODES)}, "
                                  f"got {getattr(self, name)!r}")
        if self.object_frame not in OBJECT_FRAMES:
            raise ConfigError(f"tokenizer.object_frame must be one of {list(OBJECT_FRAMES)}, got {self.object_frame!r}")
        if self.grasp_alignment and not self.kinematics:
            raise ConfigError("tokenizer.grasp_alignment extends the kinematic features: it needs kinematics")
        if self.object_extents and not self.object_state:
            raise ConfigError("tokenizer.object_extents sizes the objects whose poses object_state gives: it needs "
                              "object_state")
        if self.kinematics and not self.object_state:
            raise ConfigError("tokenizer.kinematics relates the objects to the pinch point: it needs object_state")
        for name in ("mu", "M", "patch_size", "image_height", "image_width", "num_pos_bins"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"tokenizer.{name} must be positive, got {getattr(self, name)}")
        if self.image_height % self.patch_size or self.image_width % self.patch_size:
            raise ConfigError(f"tokenizer: image {self.image_height}x{self.image_width} is not a multiple of "
                              f"patch_size {self.patch_size}")
        if self.max_text_tokens < 0:
            raise ConfigError(f"tokenizer.max_text_tokens must be >= 0, got {self.max_text_tokens}")
        rel = PurePosixPath(self.text_model)
        if not self.text_model or rel.is_absolute() or ".." in rel.parts:
            raise ConfigError(f"tokenizer.text_model must be a relative path inside the model directory, "
                              f"got {self.text_model!r}")

    @property
    def image_size(self) -> tuple[int, int]:
        return (self.image_height, self.image_width)

    @property
    def num_patches(self) -> int:
        return (self.image_height // self.patch_size) * (self.image_width // self.patch_size)


@dataclass(frozen=True)
class RobotConfig:
    """Action layout: efforts in `joint_names` order, divided by `action_scale` before tokenizing.

    `effort_limit` is each command's valid range (decoded efforts are clipped to it). The gripper's scale (2.0) is
    twice its limit so that its +-1 commands land at +-0.5, away from the edge bins that clipped torques fill.
    `action_space: cartesian`: the actions are Cartesian commands instead (CARTESIAN_COMMAND_NAMES: the pinch point's
    move and the wrist's turn this step, then the gripper), turned into arm torques by the impedance controller at
    run time (`cartesian()` gives the layout; docs/MODEL.md, "Fifth round").
    """

    joint_names: tuple[str, ...] = JOINT_NAMES
    action_scale: tuple[float, ...] = (80.0, 80.0, 40.0, 40.0, 9.0, 9.0, 9.0, 2.0)
    effort_limit: tuple[float, ...] = (80.0, 80.0, 40.0, 40.0, 9.0, 9.0, 9.0, 1.0)
    name: str = DEFAULT_ROBOT  # the registry arm (robots/<name>) the model was trained for; the agent checks it
    action_space: str = "effort"  # effort: joint efforts; cartesian: Cartesian commands (CARTESIAN_COMMAND_NAMES)

    @classmethod
    def for_robot(cls, name: str = DEFAULT_ROBOT) -> "RobotConfig":
        """The action layout of registry arm `name`: its joints and effort limits, the gripper scaled at twice its
        limit (as the default), so a model can be trained or exported for any arm in robots/."""
        desc = load_robot(name)
        limits = tuple(float(v) for v in desc.all_effort_limits())
        return cls(joint_names=desc.joint_names, action_scale=limits[:-1] + (2.0 * limits[-1],), effort_limit=limits,
                   name=desc.name)

    def cartesian(self) -> "RobotConfig":
        """This arm with Cartesian command actions: moves of up to CARTESIAN_MAX_STEP m per axis and turns of up to
        CARTESIAN_MAX_TURN rad per step (the sim expert's bounds), the gripper as in the effort layout."""
        grip_scale, grip_limit = self.action_scale[-1], self.effort_limit[-1]
        return dataclasses.replace(self, action_space="cartesian",
                                   action_scale=(CARTESIAN_MAX_STEP,) * 3 + (CARTESIAN_MAX_TURN,) * 3 + (grip_scale,),
                                   effort_limit=(CARTESIAN_MAX_STEP,) * 3 + (CARTESIAN_MAX_TURN,) * 3 + (grip_limit,))

    @property
    def action_names(self) -> tuple[str, ...]:
        """What each action dimension is: the joints (effort) or CARTESIAN_COMMAND_NAMES (cartesian)."""
        return tuple(self.joint_names) if self.action_space == "effort" else CARTESIAN_COMMAND_NAMES

    def __post_init__(self) -> None:
        _check_types("robot", self)
        if not self.joint_names:
            raise ConfigError("robot.joint_names is empty")
        if len(set(self.joint_names)) != len(self.joint_names):
            raise ConfigError(f"robot.joint_names has duplicates: {list(self.joint_names)}")
        if self.action_space not in ACTION_SPACES:
            raise ConfigError(f"robot.action_space must be one of {ACTION_SPACES}, got {self.action_space!r}")
        n = len(self.action_names)
        what = "joint_names" if self.action_space == "effort" else "cartesian actions"
        if n != len(self.action_scale):
            raise ConfigError(f"robot: {n} {what} but {len(self.action_scale)} action_scale")
        if n != len(self.effort_limit):
            raise ConfigError(f"robot: {n} {what} but {len(self.effort_limit)} effort_limit")
        for name in ("action_scale", "effort_limit"):
            if any(not (s > 0 and math.isfinite(s)) for s in getattr(self, name)):
                raise ConfigError(f"robot.{name} must be positive and finite, got {getattr(self, name)}")


# gato.json fields added after format version 3, with the value files written before them meant (the Sawyer was the
# only arm; effort actions; no kinematics; velocities in the tokens; body-frame object poses)
ADDED_LATER: dict[str, dict[str, Any]] = {
    "robot": {"name": DEFAULT_ROBOT, "action_space": "effort"},
    "tokenizer": {"kinematics": False, "velocities": True, "object_frame": "body", "grasp_alignment": False,
                  "object_extents": False, "joint_velocities": True},
}


@dataclass(frozen=True)
class GatoConfig:
    """Everything needed to tokenize for, run, and decode the actions of one model."""

    vocab: VocabConfig = field(default_factory=VocabConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    robot: RobotConfig = field(default_factory=RobotConfig)
    model: dict[str, Any] = field(default_factory=dict)  # network hyperparameters and graph files (opaque here)
    control_rate_hz: float = 20.0
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        for name, cls in (("vocab", VocabConfig), ("tokenizer", TokenizerConfig), ("robot", RobotConfig)):
            if not isinstance(getattr(self, name), cls):
                got = type(getattr(self, name)).__name__
                raise ConfigError(f"GatoConfig.{name} must be a {cls.__name__}, got {got}")
        if not isinstance(self.model, dict):
            raise ConfigError(f"gato.json 'model' must be an object, got {type(self.model).__name__}")
        _check_types("gato.json", self, only=("control_rate_hz", "format_version"))
        if not self.control_rate_hz > 0:
            raise ConfigError(f"gato.json control_rate_hz must be positive, got {self.control_rate_hz}")
        if self.format_version != FORMAT_VERSION:
            raise ConfigError(f"gato.json format_version {self.format_version} is not supported "
                              f"(this is {FORMAT_VERSION})")

    @property
    def num_actions(self) -> int:
        return len(self.robot.action_names)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (tuples become lists when dumped)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> "GatoConfig":
        """Strict inverse of `to_dict`: every key must be present and known."""
        if not isinstance(data, dict):
            raise ConfigError(f"gato config must be a JSON object, got {type(data).__name__}")
        _check_keys("gato.json", data, cls)
        version = data["format_version"]
        for section, added in ADDED_LATER.items():  # files written before a field existed: what they meant
            if isinstance(data[section], dict):
                data = {**data, section: {**added, **data[section]}}
        if version == 2 and isinstance(data["tokenizer"], dict) and "decoding" in data["tokenizer"]:
            data = {**data, "tokenizer": {"gripper_decoding": data["tokenizer"]["decoding"], **data["tokenizer"]}}
            version = FORMAT_VERSION  # the one field version 3 added, filled with what version 2 did
        if version != FORMAT_VERSION:  # before anything else: a newer layout gets the clearer message
            raise ConfigError(f"gato.json format_version {version} is not supported (this is {FORMAT_VERSION})")
        return cls(
            vocab=_section(VocabConfig, data["vocab"], "vocab"),
            tokenizer=_section(TokenizerConfig, data["tokenizer"], "tokenizer"),
            robot=_section(RobotConfig, data["robot"], "robot"),
            model=data["model"] if not isinstance(data["model"], dict) else dict(data["model"]),
            control_rate_hz=coerce("gato.json control_rate_hz", float, data["control_rate_hz"]),
            format_version=version,
        )

    @classmethod
    def load(cls, path: str | Path) -> "GatoConfig":
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError as exc:
            raise ConfigError(f"{path} does not exist") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path} cannot be read: {exc}") from exc
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path} is not valid JSON: {exc}") from exc
        try:
            return cls.from_dict(data)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from exc

    def save(self, path: str | Path) -> None:
        """Write as indented JSON (atomic: a temp file renamed over `path`)."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        tmp.replace(path)


def default_config(**model: Any) -> GatoConfig:
    """The project's default layout; keyword arguments fill the network's `model` section."""
    return GatoConfig(model=dict(model))


def _check_keys(where: str, data: dict[str, Any], cls: type) -> None:
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    missing = sorted(known - set(data))
    if unknown:
        raise ConfigError(f"{where}: unknown keys {unknown}; known: {sorted(known)}")
    if missing:
        raise ConfigError(f"{where}: missing keys {missing}")


_KINDS = {bool: "true or false", int: "an integer", str: "a string"}


def coerce(name: str, annotation: Any, value: Any, error: type[ValueError] = ConfigError) -> Any:
    """`value` as a config field of type `annotation` (bool, int, float, str or tuple[X, ...]; other types pass):
    an int is a float and a list a tuple; `error` names `name` when the value does not fit. The one type check of
    config dataclasses, for gato.json (here) and ROS parameters (gato_ros.nodes.common)."""
    if typing.get_origin(annotation) is tuple:
        if not isinstance(value, (list, tuple)):
            raise error(f"{name} has the wrong type: {value!r} (expected a list)")
        args = typing.get_args(annotation)
        return tuple(coerce(name, args[0] if args else Any, v, error) for v in value)
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise error(f"{name} must be a number, got {value!r}")
        return float(value)
    if annotation in _KINDS and (not isinstance(value, annotation) or (annotation is int and isinstance(value, bool))):
        raise error(f"{name} has the wrong type: {value!r} (expected {_KINDS[annotation]})")
    return value


def _check_types(where: str, obj: Any, only: tuple[str, ...] | None = None) -> None:
    """Check (and normalize, for frozen instances) each field against its annotation; scalar floats are finite."""
    types = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        if only is not None and f.name not in only:
            continue
        name = f"{where}.{f.name}"
        value = coerce(name, types[f.name], getattr(obj, f.name))
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{name} must be finite, got {value!r}")
        object.__setattr__(obj, f.name, value)


def _section(cls: type, data: Any, name: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"gato.json '{name}' must be an object, got {type(data).__name__}")
    _check_keys(f"gato.json '{name}'", data, cls)
    return cls(**data)


def read_yaml_fields(path: Path, cls: type, error: type[Exception], what: str) -> dict[str, Any]:
    """The mapping in the YAML file `path`, its keys checked against dataclass `cls`'s fields; any problem raises
    `error` naming the file (an empty file is an empty mapping)."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise error(f"{path}: expected a mapping of {what}, got {type(data).__name__}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise error(f"{path}: unknown {what} {unknown}; known: {sorted(known)}")
    return data
