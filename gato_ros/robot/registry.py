"""The robot registry: one folder per arm (`robots/<name>/robot.yaml` in the package share folder) read into a
`RobotDescription` (joint names, the maker's limits and their source, gripper mapping, cameras, home posture, the
MJCF source and the generated URDF). Every arm-specific number lives in those files, not in code."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_ROBOT = "sawyer"
DESCRIPTION_FILE = "robot.yaml"
N_ARM = 7


class RobotRegistryError(ValueError):
    """Unknown robot name or a malformed robot.yaml (the message names the file and the field)."""


@dataclass(frozen=True)
class GripperSpec:
    """How the gripper appears on the wire: one joint, its open/closed positions, a normalized grip effort."""

    model: str
    joint: str  # name in /joint_states and the URDF
    mjcf_joint: str  # the MuJoCo joint the sim reports as `joint`
    open: float
    closed: float
    effort: float  # command range [-effort, effort]: -1 opens, +1 closes
    velocity: float
    force: float  # MuJoCo actuator force at grip command 1

    @property
    def position_limits(self) -> tuple[float, float]:
        return (min(self.open, self.closed), max(self.open, self.closed))


@dataclass(frozen=True)
class RobotDescription:
    """One arm of the registry (see robots/README.md); arrays are in `joint_names` order (7 arm joints, gripper)."""

    name: str
    maker: str
    limits_source: str
    arm_joints: tuple[str, ...]
    effort_limits: tuple[float, ...]  # arm only, Nm
    velocity_limits: tuple[float, ...]  # arm only, rad/s
    position_limits: tuple[tuple[float, float], ...]  # arm only, rad
    gripper: GripperSpec
    cameras: tuple[str, ...]
    home_q: tuple[float, ...]
    base_position: tuple[float, float, float]
    tool_link: str
    urdf: str  # relative to the share folder
    mjcf: dict[str, Any] = field(default_factory=dict)
    joint_prefix: str = ""
    folder: Path | None = None
    sim_joint_dynamics: dict[str, tuple[float, ...]] = field(default_factory=dict)  # damping/armature/frictionloss
    hardware_plugin: str = ""  # the ros2_control hardware interface of the real arm (docs/HARDWARE.md)

    @property
    def joint_names(self) -> tuple[str, ...]:
        return self.arm_joints + (self.gripper.joint,)

    def all_effort_limits(self) -> np.ndarray:
        """[8] arm efforts (Nm) and the gripper's normalized effort."""
        return np.array([*self.effort_limits, self.gripper.effort], dtype=np.float64)

    def all_velocity_limits(self) -> np.ndarray:
        return np.array([*self.velocity_limits, self.gripper.velocity], dtype=np.float64)

    def all_position_limits(self) -> np.ndarray:
        """[8, 2] lower/upper."""
        return np.array([*self.position_limits, self.gripper.position_limits], dtype=np.float64)

    def urdf_path(self) -> Path:
        from gato_ros.paths import share_dir

        return share_dir() / self.urdf

    def rename(self, name: str) -> str:
        """A URDF/MJCF joint name as this description spells it (applies `joint_prefix` to the file's names)."""
        base = _load_raw(self.name).get("joint_prefix", "")
        if base and self.joint_prefix != base and name.startswith(base):
            return self.joint_prefix + name[len(base):]
        return name


def robots_dir() -> Path:
    from gato_ros.paths import share_dir

    return share_dir() / "robots"


def available_robots() -> tuple[str, ...]:
    """Names of every registry folder that holds a robot.yaml."""
    root = robots_dir()
    return tuple(sorted(p.parent.name for p in root.glob(f"*/{DESCRIPTION_FILE}")))


def _load_raw(name: str) -> dict[str, Any]:
    import yaml

    path = robots_dir() / name / DESCRIPTION_FILE
    if not path.is_file():
        raise RobotRegistryError(f"unknown robot {name!r}: no {path}; known robots: {available_robots()}")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise RobotRegistryError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise RobotRegistryError(f"{path} must hold a mapping")
    return raw


def _floats(raw: dict[str, Any], key: str, n: int, path: Path) -> tuple[float, ...]:
    values = raw.get(key)
    try:
        out = tuple(float(v) for v in values)
    except (TypeError, ValueError) as exc:
        raise RobotRegistryError(f"{path}: {key} must be a list of {n} numbers, got {values!r}") from exc
    if len(out) != n or not all(np.isfinite(out)):
        raise RobotRegistryError(f"{path}: {key} must be {n} finite numbers, got {values!r}")
    return out


def parse_description(raw: dict[str, Any], path: Path) -> RobotDescription:
    """Validate one robot.yaml mapping; every error names `path` and the field."""
    missing = [k for k in ("name", "arm_joints", "effort_limits", "velocity_limits", "position_limits", "gripper",
                           "home_q", "urdf", "limits_source") if k not in raw]
    if missing:
        raise RobotRegistryError(f"{path}: missing fields {missing}")
    arm = tuple(str(j) for j in raw["arm_joints"])
    if len(arm) != N_ARM or len(set(arm)) != N_ARM:
        raise RobotRegistryError(f"{path}: arm_joints must be {N_ARM} distinct names, got {arm}")
    effort = _floats(raw, "effort_limits", N_ARM, path)
    velocity = _floats(raw, "velocity_limits", N_ARM, path)
    if min(effort) <= 0 or min(velocity) <= 0:
        raise RobotRegistryError(f"{path}: effort and velocity limits must be > 0")
    try:
        pos = tuple((float(lo), float(hi)) for lo, hi in raw["position_limits"])
    except (TypeError, ValueError) as exc:
        raise RobotRegistryError(f"{path}: position_limits must be {N_ARM} [lower, upper] pairs") from exc
    if len(pos) != N_ARM or any(not lo < hi for lo, hi in pos):
        raise RobotRegistryError(f"{path}: position_limits must be {N_ARM} pairs with lower < upper, got {pos}")
    home = _floats(raw, "home_q", N_ARM, path)
    if any(not lo <= q <= hi for q, (lo, hi) in zip(home, pos)):
        raise RobotRegistryError(f"{path}: home_q {home} lies outside position_limits")
    g = raw["gripper"]
    try:
        gripper = GripperSpec(model=str(g.get("model", "")), joint=str(g["joint"]), mjcf_joint=str(g["mjcf_joint"]),
                              open=float(g["open"]), closed=float(g["closed"]), effort=float(g["effort"]),
                              velocity=float(g["velocity"]), force=float(g["force"]))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise RobotRegistryError(f"{path}: gripper needs joint, mjcf_joint, open, closed, effort, velocity, force "
                                 f"({exc})") from exc
    if gripper.open == gripper.closed:
        raise RobotRegistryError(f"{path}: gripper open and closed positions are equal")
    return RobotDescription(
        name=str(raw["name"]), maker=str(raw.get("maker", "")),
        limits_source=" ".join(str(raw["limits_source"]).split()),
        arm_joints=arm, effort_limits=effort, velocity_limits=velocity, position_limits=pos, gripper=gripper,
        cameras=tuple(raw.get("cameras", ())), home_q=home,
        base_position=_floats(raw, "base_position", 3, path) if "base_position" in raw else (0.0, 0.0, 0.0),
        tool_link=str(raw.get("tool_link", "pinch")), urdf=str(raw["urdf"]), mjcf=dict(raw.get("mjcf") or {}),
        joint_prefix=str(raw.get("joint_prefix", "")), folder=path.parent,
        sim_joint_dynamics=_dynamics(raw.get("sim_joint_dynamics") or {}, path),
        hardware_plugin=str(raw.get("hardware_plugin", "")))


def _dynamics(raw: dict[str, Any], path: Path) -> dict[str, tuple[float, ...]]:
    """sim_joint_dynamics: per-arm-joint MuJoCo damping / armature / frictionloss (each 7 values >= 0)."""
    unknown = sorted(set(raw) - {"damping", "armature", "frictionloss"})
    if unknown:
        raise RobotRegistryError(f"{path}: sim_joint_dynamics has unknown keys {unknown}")
    out = {key: _floats(raw, key, N_ARM, path) for key in raw}
    if any(v < 0 for values in out.values() for v in values):
        raise RobotRegistryError(f"{path}: sim_joint_dynamics values must be >= 0")
    return out


def load_robot(name: str = DEFAULT_ROBOT, joint_prefix: str | None = None) -> RobotDescription:
    """The registry entry `name`; `joint_prefix` renames the joints that carry the file's prefix (e.g. 'fr3_')."""
    raw = _load_raw(name)
    desc = parse_description(raw, robots_dir() / name / DESCRIPTION_FILE)
    if desc.name != name:
        raise RobotRegistryError(f"robots/{name}/{DESCRIPTION_FILE} names itself {desc.name!r}")
    if joint_prefix is None or joint_prefix == desc.joint_prefix:
        return desc
    if not desc.joint_prefix:
        raise RobotRegistryError(f"robot {name!r} has no joint_prefix to replace")
    renamed = replace(desc, joint_prefix=joint_prefix)
    gripper = replace(desc.gripper, joint=renamed.rename(desc.gripper.joint),
                      mjcf_joint=renamed.rename(desc.gripper.mjcf_joint))
    return replace(renamed, arm_joints=tuple(renamed.rename(j) for j in desc.arm_joints), gripper=gripper)
