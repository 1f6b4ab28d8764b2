"""Arm dynamics parameters of the sim as a YAML file: per arm joint damping, friction loss, armature and actuator
torque gain (and a constant torque bias). `gato-ros sim2real fit` writes one; the sim node (`dynamics` parameter),
`StackingEnv(dynamics=...)` and `gato-ros sim2real replay --dynamics` load it. Omitted entries keep the cell's
nominal values; domain randomization then perturbs around the values set here.

File format (lists follow the arm joints right_j0..right_j6):

    joint_damping: [30.0, 30.0, 30.0, 30.0, 10.0, 10.0, 10.0]   # Nm s/rad
    joint_friction: [0.3, ...]                                   # Nm (MuJoCo frictionloss)
    joint_armature: [1.0, ...]                                   # kg m^2
    torque_gain: [1.0, ...]                                      # applied Nm per commanded Nm
    torque_bias: [0.0, ...]                                      # Nm added to every command
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mujoco
import numpy as np

from gato_ros.config import read_yaml_fields
from gato_ros.interfaces import ARM_JOINTS
from gato_ros.sim.robot_mjcf import ARM_ACTUATORS

ARM_DOF = len(ARM_JOINTS)
#: name -> MuJoCo dof array it sets (the actuator ones are handled apart)
DOF_FIELDS = {"joint_damping": "dof_damping", "joint_friction": "dof_frictionloss", "joint_armature": "dof_armature"}


class DynamicsError(ValueError):
    """A dynamics file is missing, malformed or has out-of-range values."""


@dataclass(frozen=True)
class ArmDynamics:
    """Per-joint arm parameters; None keeps the cell's nominal value."""

    joint_damping: tuple[float, ...] | None = None
    joint_friction: tuple[float, ...] | None = None
    joint_armature: tuple[float, ...] | None = None
    torque_gain: tuple[float, ...] | None = None
    torque_bias: tuple[float, ...] | None = None
    note: str = ""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            if f.name == "note":
                continue
            value = getattr(self, f.name)
            if value is None:
                continue
            try:
                arr = tuple(float(v) for v in value)
            except (TypeError, ValueError) as exc:
                raise DynamicsError(f"{f.name} must be a list of {ARM_DOF} numbers, got {value!r}") from exc
            if len(arr) != ARM_DOF or not all(math.isfinite(v) for v in arr):
                raise DynamicsError(f"{f.name} must be {ARM_DOF} finite numbers (right_j0..right_j6), got {value!r}")
            if f.name != "torque_bias" and any(v < 0 for v in arr):
                raise DynamicsError(f"{f.name} must be >= 0, got {list(arr)}")
            if f.name == "torque_gain" and any(v == 0 for v in arr):
                raise DynamicsError(f"torque_gain must be > 0, got {list(arr)}")
            object.__setattr__(self, f.name, arr)

    def apply(self, model: mujoco.MjModel, dofs: np.ndarray, actuators: np.ndarray) -> None:
        """Write the set values into `model` (arm dof addresses `dofs`, arm motor ids `actuators`)."""
        for name, attr in DOF_FIELDS.items():
            value = getattr(self, name)
            if value is not None:
                getattr(model, attr)[dofs] = value
        if self.torque_gain is not None:
            model.actuator_gainprm[actuators, 0] = self.torque_gain
        if self.torque_bias is not None and any(self.torque_bias):
            model.actuator_biastype[actuators] = int(mujoco.mjtBias.mjBIAS_AFFINE)
            model.actuator_biasprm[actuators, :3] = 0.0
            model.actuator_biasprm[actuators, 0] = self.torque_bias

    @classmethod
    def of_model(cls, model: mujoco.MjModel, dofs: np.ndarray, actuators: np.ndarray) -> ArmDynamics:
        """The values `model` has now (every field set)."""
        affine = model.actuator_biastype[actuators] == int(mujoco.mjtBias.mjBIAS_AFFINE)
        return cls(**{name: tuple(getattr(model, attr)[dofs]) for name, attr in DOF_FIELDS.items()},
                   torque_gain=tuple(model.actuator_gainprm[actuators, 0]),
                   torque_bias=tuple(np.where(affine, model.actuator_biasprm[actuators, 0], 0.0)))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: [round(float(x), 6) for x in v] for k, v in dataclasses.asdict(self).items()
                               if k != "note" and v is not None}
        if self.note:
            out["note"] = self.note
        return out

    def save(self, path: str | Path) -> Path:
        import yaml

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        header = "# Arm dynamics of the sim (gato_ros.sim.dynamics); lists follow right_j0..right_j6.\n"
        path.write_text(header + yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None))
        return path


def arm_ids(model: mujoco.MjModel) -> tuple[np.ndarray, np.ndarray]:
    """(dof addresses of the 7 arm joints, ids of their motors) in `model`, found through the motors (ARM_ACTUATORS
    name them for every arm in the registry, whatever its joint names)."""
    acts = np.array([model.actuator(a).id for a in ARM_ACTUATORS])
    return model.jnt_dofadr[model.actuator_trnid[acts, 0]].astype(np.int64), acts


def load(source: ArmDynamics | str | Path | None) -> ArmDynamics:
    """An ArmDynamics from a YAML file (None or "" = nothing changed)."""
    if isinstance(source, ArmDynamics):
        return source
    if source is None or str(source) == "":
        return ArmDynamics()
    path = Path(source)
    if not path.is_file():
        raise DynamicsError(f"dynamics file {path} does not exist")
    data = read_yaml_fields(path, ArmDynamics, DynamicsError, "entries")
    return ArmDynamics(**data)
