"""Training configuration (YAML): the run, the optimiser schedule and the dataset mixture."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gato_ros.config import ACTION_SPACES, ConfigError, RobotConfig, TokenizerConfig
from gato_ros.robot.registry import DEFAULT_ROBOT


@dataclass(frozen=True)
class DatasetConfig:
    """One source in the mixture: rosbag2 demo directories (control) or text files, sampled with `weight`."""

    name: str
    weight: float = 1.0
    paths: tuple[str, ...] = ()        # demo roots (each a bag or a folder of bags)
    text_files: tuple[str, ...] = ()   # plain text, one document per line
    only_successful_prompts: bool = True


@dataclass(frozen=True)
class TrainConfig:
    """Everything `gato-ros train` needs; paths are relative to the current directory."""

    run_dir: str = "runs/tiny"
    model: str = "tiny"                # a name in gato_ros.model.gato.CONFIGS
    model_overrides: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    steps: int = 2000
    batch_size: int = 8
    seq_len: int = 1024
    lr: float = 1e-3
    min_lr_ratio: float = 0.1          # cosine decay by 10x
    warmup_steps: int = 100
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.95)
    eps: float = 1e-8
    grad_clip: float = 1.0
    prompt_prob: float = 0.25
    prompt_tokens: int = 256
    start_prob: float = 0.0            # share of control windows starting in an episode's first start_steps steps
    start_steps: int = 10              # (at rest the expert's torque is set by the objects alone; uniform draws
    #                                    put ~6% of 170-step episodes' windows there)
    obs_jitter_bins: float = 0.0       # std (bins) of Gaussian offsets on observation value tokens; 0 = none
    action_sigma_bins: float = 6.0     # HL-Gauss target width over the 1024 action bins; 0 = one-hot (the paper)
    action_value_weight: float = 0.0   # weight of the expected-value squared error on actions (regression); 0 = none
    tokenizer: dict[str, Any] = field(default_factory=dict)  # TokenizerConfig overrides (gato.json `tokenizer`)
    robot: str = DEFAULT_ROBOT         # registry arm (robots/<name>) whose joints the demos and gato.json use
    action_space: str = "effort"       # gato.json robot.action_space: effort (joint efforts) or cartesian commands
    # per-action divisor before binning (gato.json robot.action_scale); empty: the robot's default (effort limits)
    action_scale: tuple[float, ...] = ()
    eval_paths: tuple[str, ...] = ()   # held-out demo roots for the action metric (empty: no metric)
    eval_every: int = 0                # steps between held-out action metrics (0: never)
    eval_windows: int = 16             # held-out windows per metric (fixed, drawn once)
    # exponential moving average of the weights (Polyak averaging), kept beside the trained ones and saved as
    # run_dir/checkpoint_ema.pt (and snapshots/step_N_ema.pt); 0 = none. It does not change training itself.
    ema_decay: float = 0.0
    checkpoint_every: int = 250
    snapshot_every: int = 0            # steps between kept weight snapshots run_dir/snapshots/step_N.pt (0: none)
    log_every: int = 10
    device: str = "auto"               # auto | cpu | cuda
    # weights to start from (fine-tuning, e.g. on DAgger data); fresh optimizer and step 0
    init_checkpoint: str = ""
    threads: int = 0                   # torch CPU threads, 0 = torch default
    datasets: tuple[DatasetConfig, ...] = ()

    @classmethod
    def load(cls, path: str | Path) -> "TrainConfig":
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"training config {path} does not exist")
        data = yaml.safe_load(path.read_text()) or {}
        return cls.from_dict(data, str(path))

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "training config") -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"{where}: unknown keys {unknown}")
        values = dict(data)
        sets = []
        for i, d in enumerate(values.pop("datasets", []) or []):
            dknown = {f.name for f in dataclasses.fields(DatasetConfig)}
            if set(d) - dknown:
                raise ConfigError(f"{where}: dataset {i} has unknown keys {sorted(set(d) - dknown)}")
            sets.append(DatasetConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}))
        if "betas" in values:
            values["betas"] = tuple(values["betas"])
        for name in ("eval_paths", "action_scale"):
            if name in values:
                values[name] = tuple(values[name])
        cfg = cls(**values, datasets=tuple(sets))
        if not cfg.datasets:
            raise ConfigError(f"{where}: no datasets")
        if any(d.weight <= 0 for d in cfg.datasets):
            raise ConfigError(f"{where}: dataset weights must be positive")
        if not 0.0 <= cfg.start_prob <= 1.0 or cfg.start_steps < 1:
            raise ConfigError(f"{where}: start_prob must be in [0, 1] and start_steps >= 1")
        if cfg.action_sigma_bins < 0:
            raise ConfigError(f"{where}: action_sigma_bins must be >= 0, got {cfg.action_sigma_bins}")
        if not 0.0 <= cfg.ema_decay < 1.0:
            raise ConfigError(f"{where}: ema_decay must be in [0, 1) (0: no weight average), got {cfg.ema_decay}")
        if cfg.action_value_weight < 0:
            raise ConfigError(f"{where}: action_value_weight must be >= 0, got {cfg.action_value_weight}")
        cfg.tokenizer_config()  # unknown keys or bad values fail here, before any data is read
        if cfg.action_space not in ACTION_SPACES:
            raise ConfigError(f"{where}: action_space must be one of {ACTION_SPACES}, got {cfg.action_space!r}")
        cfg.robot_config()
        return cfg

    def tokenizer_config(self) -> TokenizerConfig:
        """gato.json's tokenizer section: the defaults with this config's `tokenizer:` overrides."""
        known = {f.name for f in dataclasses.fields(TokenizerConfig)}
        unknown = sorted(set(self.tokenizer) - known)
        if unknown:
            raise ConfigError(f"training config tokenizer: unknown keys {unknown}; known: {sorted(known)}")
        return TokenizerConfig(**self.tokenizer)

    def robot_config(self) -> RobotConfig:
        """gato.json's robot section: `robot`'s layout with this config's `action_scale`, if given."""
        robot = RobotConfig.for_robot(self.robot)
        robot = robot.cartesian() if self.action_space == "cartesian" else robot
        return dataclasses.replace(robot, action_scale=tuple(float(v) for v in self.action_scale)) \
            if self.action_scale else robot

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
