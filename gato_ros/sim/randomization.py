"""Domain randomization of the MuJoCo cell: one YAML file (config/randomization/*.yaml) -> `Randomization`, and
`Randomizer.episode(model, seed)`, which sets the model's randomized fields from their nominal values for one
episode and returns the episode's noise source. Same seed, same draws: every randomized episode is reproducible.

Drawn per episode (uniform in +-the setting; "relative" ones multiply the nominal value by 1 + u):
camera position, orientation and field of view (every camera), light intensity and position, object colour
within its class (hue, saturation, value), object size (primitive shapes only: box and cylinder geoms; the mesh
objects of the real cell keep their size), mass (with inertia), friction, basket ("table") friction, arm joint
damping, friction loss and armature, actuator torque gain and a constant torque bias (fraction of the effort limit).
Drawn per call: actuator torque noise and joint-state noise (Gaussian, `EpisodeNoise`). The episode's own random
streams are separate from the object layout's (`StackingEnv.reset(seed)`), so the same seed places the same
objects with and without randomization.
"""

from __future__ import annotations

import colorsys
import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mujoco
import numpy as np

from gato_ros.config import read_yaml_fields
from gato_ros.sim.dynamics import ArmDynamics

#: Preset names, each a file config/randomization/<name>.yaml.
PRESETS = ("none", "mild", "strong")
#: Mixed into the episode seed so the randomization never reuses the object layout's random stream.
SEED_SALT = 0x5EED17
#: Torque noise is redrawn every this many physics steps (5 ms at 0.5 ms), whatever the caller's chunk size.
NOISE_PERIOD_STEPS = 10


class RandomizationError(ValueError):
    """A randomization file or preset is unknown, malformed or out of range."""


def _doc(text: str) -> dict:
    return {"doc": text}


@dataclass(frozen=True)
class Randomization:
    """Perturbation strengths; all 0 = the nominal cell. Relative settings are fractions (0.2 = +-20 %)."""

    name: str = field(default="none", metadata=_doc("label reported with results"))
    camera_position_m: float = field(default=0.0, metadata=_doc("camera position, +- per axis (m)"))
    camera_rotation_rad: float = field(default=0.0, metadata=_doc("camera rotation about a random axis (rad)"))
    camera_fovy_deg: float = field(default=0.0, metadata=_doc("vertical field of view (deg)"))
    light_intensity: float = field(default=0.0, metadata=_doc("light and headlight intensity, relative"))
    light_position_m: float = field(default=0.0, metadata=_doc("light position, +- per axis (m)"))
    color_hue: float = field(default=0.0, metadata=_doc("object hue shift (fraction of the colour wheel)"))
    color_saturation: float = field(default=0.0, metadata=_doc("object colour saturation, relative"))
    color_value: float = field(default=0.0, metadata=_doc("object colour brightness, relative"))
    object_size: float = field(default=0.0, metadata=_doc("object size, relative, uniform per object"))
    object_mass: float = field(default=0.0, metadata=_doc("object mass and inertia, relative (after size)"))
    object_friction: float = field(default=0.0, metadata=_doc("object sliding friction, relative"))
    table_friction: float = field(default=0.0, metadata=_doc("basket sliding friction, relative"))
    joint_damping: float = field(default=0.0, metadata=_doc("arm joint damping, relative, per joint"))
    joint_friction: float = field(default=0.0, metadata=_doc("arm joint friction loss, relative, per joint"))
    joint_armature: float = field(default=0.0, metadata=_doc("arm joint armature, relative, per joint"))
    torque_gain: float = field(default=0.0, metadata=_doc("actuator torque per commanded Nm, relative, per joint"))
    torque_bias: float = field(default=0.0, metadata=_doc("constant torque bias, fraction of the effort limit"))
    torque_noise: float = field(default=0.0, metadata=_doc("torque noise std, fraction of the effort limit"))
    joint_position_noise: float = field(default=0.0, metadata=_doc("joint position noise std (rad)"))
    joint_velocity_noise: float = field(default=0.0, metadata=_doc("joint velocity noise std (rad/s)"))

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            if f.name == "name":
                continue
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise RandomizationError(f"randomization {f.name} must be a number, got {value!r}")
            if not (math.isfinite(value) and value >= 0):
                raise RandomizationError(f"randomization {f.name} must be finite and >= 0, got {value}")
            object.__setattr__(self, f.name, float(value))
        for name in ("light_intensity", "color_saturation", "color_value", "object_size", "object_mass",
                     "object_friction", "table_friction", "joint_damping", "joint_friction", "joint_armature",
                     "torque_gain"):
            if getattr(self, name) >= 1:
                raise RandomizationError(f"randomization {name} is relative and must be < 1 (a factor 1 +- it), "
                                         f"got {getattr(self, name)}")

    @property
    def enabled(self) -> bool:
        """True when anything is perturbed."""
        return any(getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "name")

    def scaled(self, k: float) -> Randomization:
        """Every strength times `k` (the robustness sweep's strength axis); relative ones capped below 1."""
        if not (math.isfinite(k) and k >= 0):
            raise RandomizationError(f"strength must be finite and >= 0, got {k}")
        values: dict[str, Any] = {"name": f"{self.name}x{k:g}"}
        for f in dataclasses.fields(self):
            if f.name != "name":
                values[f.name] = getattr(self, f.name) * k
        probe = Randomization()
        for name, value in list(values.items()):
            if name != "name" and value >= 1:
                try:
                    dataclasses.replace(probe, **{name: value})
                except RandomizationError:
                    values[name] = 0.95
        return Randomization(**values)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def preset_path(name: str) -> Path:
    from gato_ros.paths import config_dir

    return config_dir() / "randomization" / f"{name}.yaml"


def load(source: str | Path | None) -> Randomization:
    """A preset name (none, mild, strong) or a YAML file of Randomization fields; None or "" = none."""
    if source is None or str(source) == "":
        return Randomization()
    path = preset_path(str(source)) if str(source) in PRESETS else Path(source)
    if not path.is_file():
        raise RandomizationError(f"randomization {str(source)!r} is neither a preset ({', '.join(PRESETS)}) nor a "
                                 f"file")
    data = read_yaml_fields(path, Randomization, RandomizationError, "randomization settings")
    data.setdefault("name", path.stem)
    return Randomization(**data)


# ----------------------------------------------------------------------------------------------- applying

#: Model fields the randomizer writes; each is restored from its nominal value before every episode.
_FIELDS = ("cam_pos", "cam_quat", "cam_fovy", "light_diffuse", "light_ambient", "light_pos", "geom_rgba",
           "geom_size", "geom_rbound", "geom_aabb", "geom_friction", "body_mass", "body_inertia", "dof_damping",
           "dof_frictionloss", "dof_armature", "actuator_gainprm", "actuator_biasprm", "actuator_biastype")
_HEADLIGHT = ("ambient", "diffuse")


@dataclass
class _Nominal:
    arrays: dict[str, np.ndarray]
    headlight: dict[str, np.ndarray]

    @classmethod
    def capture(cls, model: mujoco.MjModel) -> _Nominal:
        return cls({k: np.array(getattr(model, k), copy=True) for k in _FIELDS},
                   {k: np.array(getattr(model.vis.headlight, k), copy=True) for k in _HEADLIGHT})

    def restore(self, model: mujoco.MjModel) -> None:
        for k, v in self.arrays.items():
            getattr(model, k)[...] = v
        for k, v in self.headlight.items():
            getattr(model.vis.headlight, k)[...] = v


@dataclass(frozen=True)
class CellParts:
    """Ids of what gets randomized: object bodies and their collision geoms, basket geoms, arm dofs/actuators."""

    object_bodies: tuple[int, ...]
    arm_dofs: np.ndarray
    arm_actuators: np.ndarray
    effort_limits: np.ndarray  # [7] arm, Nm


class EpisodeNoise:
    """Per-call noise of one episode: actuator torques and joint states (Gaussian, seeded)."""

    def __init__(self, rand: Randomization, rng: np.random.Generator, effort_limits: np.ndarray) -> None:
        self._rng = rng
        self._torque_std = rand.torque_noise * np.asarray(effort_limits, dtype=np.float64)
        self._q_std, self._qd_std = rand.joint_position_noise, rand.joint_velocity_noise

    @property
    def torques_on(self) -> bool:
        return bool(np.any(self._torque_std > 0))

    def torques(self) -> np.ndarray:
        """[7] arm torque noise (Nm) for the next NOISE_PERIOD_STEPS physics steps."""
        return self._rng.normal(0.0, 1.0, self._torque_std.shape) * self._torque_std

    def joint_state(self, q: np.ndarray, qd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Measured joint state: q and qd plus noise (new arrays)."""
        q = np.asarray(q, dtype=np.float64).copy()
        qd = np.asarray(qd, dtype=np.float64).copy()
        if self._q_std > 0:
            q += self._rng.normal(0.0, self._q_std, q.shape)
        if self._qd_std > 0:
            qd += self._rng.normal(0.0, self._qd_std, qd.shape)
        return q, qd


class Randomizer:
    """Applies one Randomization to the cell's models, episode by episode (nominal values kept per model)."""

    def __init__(self, rand: Randomization) -> None:
        self.rand = rand
        self._nominal: dict[int, tuple[mujoco.MjModel, _Nominal]] = {}
        self.last_draw: dict[str, Any] = {}

    def _nominal_of(self, model: mujoco.MjModel) -> _Nominal:
        entry = self._nominal.get(id(model))
        if entry is None or entry[0] is not model:
            if len(self._nominal) >= 16:
                self._nominal.pop(next(iter(self._nominal)))
            entry = (model, _Nominal.capture(model))
            self._nominal[id(model)] = entry
        return entry[1]

    def episode(self, model: mujoco.MjModel, parts: CellParts, seed: int) -> EpisodeNoise:
        """Restore `model`'s nominal values, then draw and apply this episode's (seeded); returns its noise."""
        self._nominal_of(model).restore(model)
        rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, SEED_SALT])
        self.last_draw = apply(self.rand, model, parts, rng)
        # derived constants (subtree masses, inverse weights) from the new values, on scratch data: mj_setConst
        # leaves the data it is given in another state (the gripper closed), so never the episode's
        mujoco.mj_setConst(model, mujoco.MjData(model))
        return EpisodeNoise(self.rand, np.random.default_rng([int(seed) & 0xFFFFFFFF, SEED_SALT, 1]),
                            parts.effort_limits)


def _rel(rng: np.random.Generator, x: float, size: Any = None) -> Any:
    """Factor(s) 1 + U(-x, x)."""
    return 1.0 + rng.uniform(-x, x, size)


def _jitter_color(rgba: np.ndarray, rand: Randomization, rng: np.random.Generator) -> np.ndarray:
    h, s, v = colorsys.rgb_to_hsv(*(float(c) for c in rgba[:3]))
    h = (h + rng.uniform(-rand.color_hue, rand.color_hue)) % 1.0
    s = float(np.clip(s * _rel(rng, rand.color_saturation), 0.0, 1.0))
    v = float(np.clip(v * _rel(rng, rand.color_value), 0.0, 1.0))
    return np.array([*colorsys.hsv_to_rgb(h, s, v), rgba[3]])


def apply(rand: Randomization, model: mujoco.MjModel, parts: CellParts, rng: np.random.Generator) -> dict[str, Any]:
    """Draw every randomized value from `rng` (always the same number of draws, in a fixed order, so one setting
    never shifts another's values) and write them into `model`; returns what was drawn (for reports)."""
    draw: dict[str, Any] = {}
    # cameras
    for c in range(model.ncam):
        model.cam_pos[c] += rng.uniform(-rand.camera_position_m, rand.camera_position_m, 3)
        axis = rng.normal(size=3)
        axis /= max(float(np.linalg.norm(axis)), 1e-12)
        dq = np.zeros(4)
        mujoco.mju_axisAngle2Quat(dq, axis, rng.uniform(-rand.camera_rotation_rad, rand.camera_rotation_rad))
        quat = np.zeros(4)
        mujoco.mju_mulQuat(quat, model.cam_quat[c].copy(), dq)
        model.cam_quat[c] = quat
        model.cam_fovy[c] = float(np.clip(model.cam_fovy[c] + rng.uniform(-rand.camera_fovy_deg, rand.camera_fovy_deg),
                                          5.0, 170.0))
    draw["cam_fovy"] = [float(x) for x in model.cam_fovy]
    # lights
    for i in range(model.nlight):
        k = _rel(rng, rand.light_intensity)
        model.light_diffuse[i] *= k
        model.light_ambient[i] *= k
        model.light_pos[i] += rng.uniform(-rand.light_position_m, rand.light_position_m, 3)
    k = _rel(rng, rand.light_intensity)
    model.vis.headlight.ambient[:] = np.asarray(model.vis.headlight.ambient) * k
    model.vis.headlight.diffuse[:] = np.asarray(model.vis.headlight.diffuse) * k
    # objects
    box, cyl = int(mujoco.mjtGeom.mjGEOM_BOX), int(mujoco.mjtGeom.mjGEOM_CYLINDER)
    draw["objects"] = []
    for b in parts.object_bodies:
        size_k, mass_k, fric_k = _rel(rng, rand.object_size), _rel(rng, rand.object_mass), \
            _rel(rng, rand.object_friction)
        geoms = [g for g in range(model.ngeom) if model.geom_bodyid[g] == b]
        scalable = all(int(model.geom_type[g]) in (box, cyl) for g in geoms if model.geom_contype[g])
        if not scalable:
            size_k = 1.0  # meshes keep their size (their vertices are compiled)
        for g in geoms:
            model.geom_rgba[g] = _jitter_color(model.geom_rgba[g], rand, rng)
            model.geom_friction[g, 0] *= fric_k
            if size_k != 1.0:
                model.geom_size[g] *= size_k
                model.geom_rbound[g] *= size_k
                model.geom_aabb[g] *= size_k  # a primitive's box is centred on it: scaling keeps it exact
        k = size_k ** 3 * mass_k
        model.body_mass[b] *= k
        model.body_inertia[b] *= k * size_k ** 2
        draw["objects"].append({"size": float(size_k), "mass": float(model.body_mass[b]), "friction": float(fric_k)})
    # basket ("table"): every world geom that collides
    k = _rel(rng, rand.table_friction)
    world = (model.geom_bodyid == 0) & (model.geom_contype != 0)
    model.geom_friction[world, 0] *= k
    draw["table_friction"] = float(k)
    # arm joints and actuators
    n = len(parts.arm_dofs)
    for name, attr in (("joint_damping", "dof_damping"), ("joint_friction", "dof_frictionloss"),
                       ("joint_armature", "dof_armature")):
        k = _rel(rng, getattr(rand, name), n)
        getattr(model, attr)[parts.arm_dofs] *= k
        draw[name] = [float(x) for x in getattr(model, attr)[parts.arm_dofs]]
    gain = _rel(rng, rand.torque_gain, n)
    bias = rng.uniform(-rand.torque_bias, rand.torque_bias, n) * parts.effort_limits
    now = ArmDynamics.of_model(model, parts.arm_dofs, parts.arm_actuators)  # nominal or fitted (a dynamics file)
    ArmDynamics(torque_gain=tuple(np.asarray(now.torque_gain) * gain),
                torque_bias=tuple(np.asarray(now.torque_bias) + bias)).apply(model, parts.arm_dofs, parts.arm_actuators)
    draw["torque_gain"] = [float(x) for x in gain]
    draw["torque_bias"] = [float(x) for x in bias]
    return draw
