"""StackingEnv: the MuJoCo RGB Stacking cell behind the robot's interface (torques in, joint states and images out).

One control step is 50 ms (20 Hz) = 100 physics steps of 0.5 ms. Arm efforts are joint torques (Nm) on top of
MuJoCo gravity compensation of the arm and gripper bodies; the gripper effort is a normalized grip command
in [-1, 1] (-1 opens, +1 closes, full force). Efforts are clipped to the URDF limits."""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from gato_ros.interfaces import JOINT_NAMES, OBJECT_COLORS, OBJECT_FRAMES
from gato_ros.robot import RobotModel, default_urdf_path
from gato_ros.robot.registry import DEFAULT_ROBOT, load_robot
from gato_ros.sim import objects, robot_mjcf, scene, success
from gato_ros.sim import dynamics as arm_dynamics
from gato_ros.sim import randomization as domain_rand

CONTROL_RATE_HZ = 20.0
SUBSTEPS = 100  # physics steps per control step
# pinch point 0.25 m above the basket centre, pointing down (the registry's home_q of the Sawyer)
HOME_Q = load_robot(DEFAULT_ROBOT).home_q
SPAWN_HALF_EXTENT = 0.09  # objects spawn with centres in [-0.09, 0.09]^2 around the basket centre
SPAWN_GAP = 0.015  # minimum free gap between spawned objects' footprints (m)
SETTLE_STEPS = 200  # physics steps after placing objects, before time 0
RENDER_GROUPS = (1, 1, 1, 0, 0, 0)


class EnvError(ValueError):
    """Bad argument to StackingEnv (unknown cell/camera/object set, malformed efforts)."""


@dataclass(frozen=True)
class Observation:
    """What the robot's drivers report after a step: joint states in `joint_names` order, image, time."""

    q: np.ndarray  # [8] arm positions (rad) + 2F-85 driver angle (0 open .. 0.8 closed)
    qd: np.ndarray  # [8]
    effort: np.ndarray  # [8] applied efforts (Nm; normalized grip command)
    image: np.ndarray | None  # HxWx3 uint8 RGB of `camera`; None from physics_step
    time: float  # seconds since reset
    success: bool


class StackingEnv:
    """The RGB Stacking cell; see the module docstring. `cell` is 'primitive' (fast, CI) or 'real' (benchmark
    assets)."""

    joint_names = list(JOINT_NAMES)
    base_body = robot_mjcf.BASE_BODY
    control_rate_hz = CONTROL_RATE_HZ
    physics_dt = scene.PHYSICS_DT
    floor_z = scene.FLOOR_Z
    object_bodies = {c: c for c in objects.COLORS}

    def __init__(self, cell: str = "primitive", camera: str = "basket_front_left", image_size=(64, 64),
                 object_set: str = "rgb_train_random", seed: int = 0, success_rule: str = "size_aware",
                 randomization: domain_rand.Randomization | str | None = None,
                 dynamics: arm_dynamics.ArmDynamics | str | None = None, robot: str = DEFAULT_ROBOT,
                 object_frame: str = "body") -> None:
        if cell not in scene.CELLS:
            raise EnvError(f"unknown cell {cell!r}; choose one of {scene.CELLS}")
        if camera not in scene.CAMERAS:
            raise EnvError(f"unknown camera {camera!r}; choose one of {tuple(scene.CAMERAS)}")
        if object_set not in objects.OBJECT_SETS:
            raise EnvError(f"unknown object_set {object_set!r}; choose one of {objects.OBJECT_SETS}")
        if success_rule not in success.SUCCESS_RULES:
            raise EnvError(f"unknown success_rule {success_rule!r}; choose one of {success.SUCCESS_RULES}")
        if object_frame not in OBJECT_FRAMES:
            raise EnvError(f"unknown object_frame {object_frame!r}; choose one of {OBJECT_FRAMES}")
        self.success_rule = success_rule
        self.object_frame = object_frame  # which frame object_poses() reports (interfaces.OBJECT_FRAMES)
        h, w = (int(image_size[0]), int(image_size[1]))
        if h <= 0 or w <= 0:
            raise EnvError(f"image_size must be positive (height, width), got {image_size}")
        self.cell, self.camera, self.image_size, self.object_set = cell, camera, (h, w), object_set
        from gato_ros.sim.robots import SIM_ROBOTS, base_body

        if robot not in SIM_ROBOTS:
            raise EnvError(f"unknown robot {robot!r}; the sim builds {SIM_ROBOTS}")
        self.robot_name, self.description = robot, load_robot(robot)
        self.joint_names = list(self.description.joint_names)
        self.base_body = base_body(robot)
        self.home_q = self.description.home_q
        self.robot = RobotModel.from_file(default_urdf_path()) if robot == DEFAULT_ROBOT \
            else RobotModel.for_robot(self.description)
        self.effort_limits = np.asarray(self.robot.effort_limits, dtype=np.float64)
        self._models: dict[tuple[str, str, str], mujoco.MjModel] = {}
        self._renderers: dict[tuple[int, int, int], mujoco.Renderer] = {}
        self._effort = np.zeros(8)
        self._points: dict[tuple[tuple[str, ...], str], np.ndarray] = {}
        self._grasp_turns: dict[tuple[tuple[str, ...], str], np.ndarray] = {}
        self.dynamics = arm_dynamics.load(dynamics)  # arm parameters over the cell's nominal ones (a fitted file)
        rand = randomization if isinstance(randomization, domain_rand.Randomization) \
            else domain_rand.load(randomization)
        self.randomization = rand  # domain randomization (gato_ros.sim.randomization); drawn per reset(seed)
        self._randomizer = domain_rand.Randomizer(rand) if rand.enabled else None
        self._noise: domain_rand.EpisodeNoise | None = None
        self.reset(seed)

    # ------------------------------------------------------------------ model

    def _model_for(self, triplet: tuple[str, str, str]) -> mujoco.MjModel:
        if triplet not in self._models:
            if len(self._models) >= 8:
                self._models.pop(next(iter(self._models)))
            model = scene.build_model(self.cell, triplet, self.robot_name)
            self.dynamics.apply(model, *arm_dynamics.arm_ids(model))
            mujoco.mj_setConst(model, mujoco.MjData(model))  # constants derived from armature and masses
            self._models[triplet] = model
        return self._models[triplet]

    def _index(self) -> None:
        m = self.model
        arm = self.description.arm_joints
        self._arm_qpos = np.array([m.joint(j).qposadr[0] for j in arm])
        self._arm_qvel = np.array([m.joint(j).dofadr[0] for j in arm])
        driver = m.joint(self.description.gripper.mjcf_joint)
        self._grip_qpos, self._grip_qvel = int(driver.qposadr[0]), int(driver.dofadr[0])
        self._arm_act = np.array([m.actuator(a).id for a in robot_mjcf.ARM_ACTUATORS])
        self._grip_act = m.actuator(robot_mjcf.GRIP_ACTUATOR).id
        self._obj_body = {c: m.body(c).id for c in objects.COLORS}
        self._obj_geoms = {c: {g for g in range(m.ngeom) if m.geom_bodyid[g] == b and m.geom_contype[g]}
                           for c, b in self._obj_body.items()}
        from gato_ros.sim.robots import finger_bodies

        pads = {}
        for side, bodies in finger_bodies(self.robot_name).items():
            roots = [m.body(b).id for b in bodies]
            pads[side] = {g for g in range(m.ngeom) if m.geom_bodyid[g] in roots}
        self._finger_geoms = pads
        self._pinch = m.site(robot_mjcf.PINCH_SITE).id

    # ------------------------------------------------------------------ episode

    def reset(self, seed: int | None = None) -> Observation:
        """New episode: objects of the object set (drawn by `seed`) at seeded random poses, arm at its home_q."""
        self.seed = 0 if seed is None else int(seed)
        rng = np.random.default_rng(self.seed)
        self.triplet = objects.triplet(self.object_set, rng)
        self.model = self._model_for(self.triplet)
        self.data = mujoco.MjData(self.model)
        self._index()
        if self._randomizer is not None:
            parts = domain_rand.CellParts(tuple(self._obj_body.values()), self._arm_qvel, self._arm_act,
                                            self.effort_limits[:7])
            self._noise = self._randomizer.episode(self.model, parts, self.seed)
            self._points.clear()  # object sizes may have changed
            self._grasp_turns.clear()
        self.data.qpos[self._arm_qpos] = self.home_q
        self._place_objects(rng)
        self._effort = np.zeros(8)
        self._effort[7] = -1.0
        self._apply(self._effort)
        mujoco.mj_step(self.model, self.data, nstep=SETTLE_STEPS)
        self.data.time = 0.0
        self.data.qvel[self._arm_qvel] = 0.0
        mujoco.mj_forward(self.model, self.data)
        self.red_rest_z = float(self.data.xpos[self._obj_body["red"]][2])
        return self.observe()

    @property
    def object_names(self) -> tuple[str, str, str]:
        """(red, green, blue) RGB object names of this episode."""
        return self.triplet

    def _local_points(self, color: str) -> np.ndarray:
        """The object's collision vertices (boxes/cylinders: bounding corners) in its body frame, cached."""
        key = (self.triplet, color)
        if key not in self._points:
            self._points[key] = self._compute_local_points(color)
        return self._points[key]

    def object_points(self, color: str) -> np.ndarray:
        """The object's collision vertices in the world frame now."""
        b = self._obj_body[color]
        return self._local_points(color) @ self.data.xmat[b].reshape(3, 3).T + self.data.xpos[b]

    def _bottom_offset(self, color: str) -> tuple[float, float]:
        """(distance from the body origin down to the object's lowest point, footprint radius)."""
        p = self._local_points(color)
        return float(-p[:, 2].min()), float(np.linalg.norm(p[:, :2], axis=1).max())

    def _compute_local_points(self, color: str) -> np.ndarray:
        m = self.model
        pts = []
        for g in self._obj_geoms[color]:
            size = m.geom_size[g]
            if m.geom_type[g] == mujoco.mjtGeom.mjGEOM_MESH:
                mid = m.geom_dataid[g]
                local = m.mesh_vert[m.mesh_vertadr[mid]:m.mesh_vertadr[mid] + m.mesh_vertnum[mid]]
            elif m.geom_type[g] == mujoco.mjtGeom.mjGEOM_BOX:
                local = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)]) * size
            else:  # cylinder
                local = np.array([[sx * size[0], sy * size[0], sz * size[1]]
                                  for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])
            rot = np.zeros(9)
            mujoco.mju_quat2Mat(rot, m.geom_quat[g])
            pts.append(np.asarray(local, dtype=np.float64) @ rot.reshape(3, 3).T + m.geom_pos[g])
        return np.concatenate(pts)

    def _place_objects(self, rng: np.random.Generator) -> None:
        placed: list[tuple[np.ndarray, float]] = []
        for color in objects.COLORS:
            bottom, radius = self._bottom_offset(color)
            for _ in range(1000):
                xy = rng.uniform(-SPAWN_HALF_EXTENT, SPAWN_HALF_EXTENT, size=2)
                if all(np.linalg.norm(xy - p) >= radius + r + SPAWN_GAP for p, r in placed):
                    break
            else:  # crowded: accept the last draw (objects push apart while settling)
                pass
            placed.append((xy, radius))
            yaw = rng.uniform(-np.pi, np.pi)
            adr = self.model.joint(f"{color}_joint").qposadr[0]
            self.data.qpos[adr:adr + 3] = [xy[0], xy[1], self.floor_z + bottom + 0.001]
            self.data.qpos[adr + 3:adr + 7] = [np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)]

    # ------------------------------------------------------------------ stepping

    def _clip(self, efforts) -> np.ndarray:
        e = np.asarray(efforts, dtype=np.float64)
        if e.shape != (8,):
            raise EnvError(f"efforts must have 8 values in joint_names order {self.joint_names}, got shape {e.shape}")
        if not np.all(np.isfinite(e)):
            raise EnvError(f"efforts must be finite, got {e}")
        return np.clip(e, -self.effort_limits, self.effort_limits)

    def _apply(self, effort: np.ndarray) -> None:
        self.data.ctrl[self._arm_act] = effort[:7]
        self.data.ctrl[self._grip_act] = effort[7]

    def physics_step(self, efforts, n: int = 1) -> Observation:
        """Hold `efforts` (clipped) for n physics steps of 0.5 ms; the observation has no image."""
        self._effort = self._clip(efforts)
        self._apply(self._effort)
        if self._noise is not None and self._noise.torques_on:  # actuator noise, redrawn every 5 ms
            for done in range(0, int(n), domain_rand.NOISE_PERIOD_STEPS):
                self.data.ctrl[self._arm_act] = self._effort[:7] + self._noise.torques()
                mujoco.mj_step(self.model, self.data, nstep=min(domain_rand.NOISE_PERIOD_STEPS, int(n) - done))
        else:
            mujoco.mj_step(self.model, self.data, nstep=int(n))
        return self.observe(render=False)

    def step(self, efforts) -> Observation:
        """One 50 ms control step with `efforts` held, then an image from `camera`."""
        self.physics_step(efforts, SUBSTEPS)
        return self.observe()

    def observe(self, render: bool = True) -> Observation:
        d = self.data
        q = np.append(d.qpos[self._arm_qpos], d.qpos[self._grip_qpos])
        qd = np.append(d.qvel[self._arm_qvel], d.qvel[self._grip_qvel])
        if self._noise is not None:  # what the joint encoders report, not the true state
            q, qd = self._noise.joint_state(q, qd)
        return Observation(q, qd, self._effort.copy(), self.render() if render else None, float(d.time),
                           self.success())

    # ------------------------------------------------------------------ rendering

    def render(self, camera: str | None = None, image_size: tuple[int, int] | None = None) -> np.ndarray:
        """HxWx3 uint8 RGB from a basket camera (default: the env's camera and image size), no shadows."""
        camera = camera or self.camera
        if camera not in scene.CAMERAS:
            raise EnvError(f"unknown camera {camera!r}; choose one of {tuple(scene.CAMERAS)}")
        h, w = image_size or self.image_size
        key = (id(self.model), h, w)
        if key not in self._renderers:
            for old in [k for k in self._renderers if k[0] != id(self.model)]:
                self._renderers.pop(old).close()
            self._renderers[key] = mujoco.Renderer(self.model, h, w)
        r = self._renderers[key]
        opt = mujoco.MjvOption()
        opt.geomgroup[:] = RENDER_GROUPS
        r.update_scene(self.data, camera, opt)
        r.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = 0
        r.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = 0
        return r.render().copy()

    def close(self) -> None:
        for r in self._renderers.values():
            r.close()
        self._renderers.clear()

    # ------------------------------------------------------------------ task state

    def object_poses(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """{color: (position [3], quaternion wxyz [4])} in the world frame, of each object's body frame (at its
        centre) or, with object_frame "grasp", of its grasp frame: the body frame turned about its own z axis so x
        runs along the object's narrowest horizontal width (objects.grasp_yaw)."""
        poses = {}
        for c, b in self._obj_body.items():
            quat = self.data.xquat[b].copy()
            if self.object_frame == "grasp":
                turned = np.empty(4)
                mujoco.mju_mulQuat(turned, quat, self._grasp_turn(c))
                quat = turned
            poses[c] = (self.data.xpos[b].copy(), quat)
        return poses

    def _grasp_turn(self, color: str) -> np.ndarray:
        """Quaternion (wxyz) from the object's body frame to its grasp frame, cached like its vertices."""
        key = (self.triplet, color)
        if key not in self._grasp_turns:
            half = 0.5 * objects.grasp_yaw(self._local_points(color))
            self._grasp_turns[key] = np.array([np.cos(half), 0.0, 0.0, np.sin(half)])
        return self._grasp_turns[key]

    def object_extents(self) -> np.ndarray:
        """[9] per object (OBJECT_COLORS order): half sizes along x, y, z of its reported frame (body or grasp) of the
        smallest box centred on that frame's origin holding the object (interfaces.OBJECT_EXTENTS_SIZE)."""
        out = []
        for c in OBJECT_COLORS:
            points = self._local_points(c)
            if self.object_frame == "grasp":
                turn = np.zeros(9)
                mujoco.mju_quat2Mat(turn, self._grasp_turn(c))
                points = points @ turn.reshape(3, 3)  # body-frame points in grasp-frame coordinates
            out.append(np.abs(points).max(axis=0))
        return np.concatenate(out)

    def object_state(self) -> np.ndarray:
        """[21] red, green, blue: position + quaternion wxyz (w >= 0); gato_ros.observation.object_state_from_poses."""
        from gato_ros.observation import object_state_from_poses

        return object_state_from_poses(self.object_poses())

    def pinch_position(self) -> np.ndarray:
        return self.data.site_xpos[self._pinch].copy()

    def touching(self, color: str) -> dict[str, bool]:
        """Whether the left / right finger is in contact with the object `color`."""
        obj = self._obj_geoms[color]
        hit = {"left": False, "right": False}
        for i in range(self.data.ncon):
            c = self.data.contact[i]
            pair = {int(c.geom1), int(c.geom2)}
            if pair & obj:
                for side, geoms in self._finger_geoms.items():
                    if pair & geoms:
                        hit[side] = True
        return hit

    def grasping(self, color: str = "red") -> bool:
        """Both fingers touch the object: the gripper holds it."""
        return all(self.touching(color).values())

    def success(self) -> bool:
        """Benchmark success: red within 0.03 m of blue horizontally, +-0.01 m of the stacking height above it,
        not grasped. The stacking height is 0.04 m with success_rule='literal'; with 'size_aware' (default) it is
        the resting height of these two objects (red's centre-to-bottom + blue's top-to-centre), which equals
        0.04 m for 4 cm objects - the rgb_v1.3 objects are 4-15 cm tall (see docs/SIM.md)."""
        red, blue = self.data.xpos[self._obj_body["red"]], self.data.xpos[self._obj_body["blue"]]
        offset = success.VERTICAL_OFFSET
        if self.success_rule == "size_aware":
            offset = success.resting_offset(red, self.object_points("red"), blue, self.object_points("blue"))
        return success.is_stacked(red, blue, self.grasping("red"), offset)

    def stages(self) -> dict[str, bool]:
        """{reached, grasped, lifted, stacked} now."""
        return success.stage_flags(self.pinch_position(), self.data.xpos[self._obj_body["red"]], self.red_rest_z,
                                   self.grasping("red"), self.success())

    def stage(self) -> str:
        """The furthest stage that holds now: 'none', 'reached', 'grasped', 'lifted' or 'stacked'."""
        return success.furthest_stage(self.stages())
