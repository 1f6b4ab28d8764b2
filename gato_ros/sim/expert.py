"""Scripted torque expert that stacks red on blue: a phase machine over pinch-point targets, tracked by the
Cartesian impedance controller (joint torques only) and the normalized gripper effort.

Phases: approach above red, descend, close, lift, move above blue, descend to place height, open, retreat.
It reads the objects' true poses and shapes from the simulator (privileged state, as scripted experts do).
A failed grasp (red not lifted) or red not resting on blue after the retreat starts over from the approach
while time remains. `done` means red rests on blue (SceneReader.red_on_blue); the benchmark's success test
(StackingEnv.success) additionally needs the two objects' centres 0.03-0.05 m apart vertically.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import numpy as np

from gato_ros.control import CartesianImpedanceController, ImpedanceGains, Pose, yaw_matrix
from gato_ros.control.pose import matrix_to_rotvec, rotvec_to_matrix
from gato_ros.sim.expert_scene import ObjectGeometry, SceneReader

GRIPPER_OPEN = -1.0
GRIPPER_CLOSE = 1.0


class ExpertError(RuntimeError):
    """The expert was used out of order (act before reset) or the scene lacks what it needs."""


class Phase(str, enum.Enum):
    APPROACH = "approach"
    DESCEND = "descend"
    CLOSE = "close"
    LIFT = "lift"
    TRANSPORT = "transport"
    PLACE = "place"
    RELEASE = "release"
    RETREAT = "retreat"
    DONE = "done"


@dataclass(frozen=True)
class ExpertConfig:
    """Heights (m, base frame), speeds (m/s) and step counts (20 Hz control steps) of the scripted expert."""

    hover: float = 0.05  # pinch point above the tallest object's top while approaching
    lift: float = 0.04  # red's bottom above the taller of blue and green while transporting
    grasp_depth: float = 0.04  # pinch point below red's top (capped at half its height: grip near the middle)
    floor_clearance: float = 0.012  # pinch point never below the basket floor plus this
    place_gap: float = 0.003  # red's bottom above blue's top when released
    retreat: float = 0.10
    fast_speed: float = 0.25
    slow_speed: float = 0.08
    position_tolerance: float = 0.006
    angle_tolerance: float = 0.05
    close_steps: int = 10
    release_steps: int = 8
    settle_steps: int = 12  # a phase's move counts as done this many steps after its target arrived
    phase_timeout_steps: int = 120
    max_gripper_width: float = 0.075  # widest object span the 2F-85 (85 mm stroke) grasps reliably
    finger_reach: float = 0.05  # open finger pads' distance from the pinch point along the closing axis
    finger_size: float = 0.02  # half extent of the zone around each open finger kept clear of other objects
    speed_jitter: float = 0.15  # relative per-episode speed randomization (demo diversity)


class _Segment:
    """A straight-line pinch-point move at constant speed, with the matching feed-forward twist."""

    def __init__(self, start: Pose, goal: Pose, speed: float, dt: float) -> None:
        self.start, self.goal = start, goal
        self.delta = goal.position - start.position
        self.rot = matrix_to_rotvec(goal.rotation @ start.rotation.T)
        dist = float(np.linalg.norm(self.delta))
        self.duration = max(dist / max(speed, 1e-6), float(np.linalg.norm(self.rot)) / 1.0, dt)
        self.t = 0.0
        self.dt = dt
        self.overtime = 0  # control steps since the target arrived at the goal

    def advance(self) -> tuple[Pose, np.ndarray]:
        """Target pose and twist one control step later."""
        self.overtime += int(self.t >= self.duration)
        self.t = min(self.t + self.dt, self.duration)
        s = self.t / self.duration
        pose = Pose(self.start.position + s * self.delta, rotvec_to_matrix(s * self.rot) @ self.start.rotation)
        twist = np.zeros(6) if s >= 1.0 else np.concatenate([self.delta, self.rot]) / self.duration
        return pose, twist

    @property
    def finished(self) -> bool:
        return self.t >= self.duration


class ScriptedExpert:
    """`act(obs) -> efforts[8]` (7 arm torques on top of gravity compensation, normalized gripper effort)."""

    def __init__(self, env: Any, seed: int = 0, config: ExpertConfig | None = None,
                 gains: ImpedanceGains | None = None) -> None:
        self.env = env
        self.config = config or ExpertConfig()
        self.scene = SceneReader(env)
        self.robot = self.scene.robot
        self.controller = CartesianImpedanceController(self.robot, gains)
        self.dt = 1.0 / float(getattr(env, "control_rate_hz", 20.0))
        self.seed = int(seed)
        self.phase: Phase | None = None
        self.attempts = 0

    # ------------------------------------------------------------------ public API
    @property
    def done(self) -> bool:
        """True once red rests on blue, released, and the arm has retreated."""
        return self.phase is Phase.DONE

    def reset(self, obs: Any) -> None:
        """Start a new episode from its first observation (randomness drawn from (seed, env.seed), so an episode
        replays the same whatever ran before it)."""
        rng = np.random.default_rng([self.seed, int(getattr(self.env, "seed", 0))])
        self.speed_scale = 1.0 + self.config.speed_jitter * rng.uniform(-1.0, 1.0)
        self.attempts = 0
        self.controller.set_posture(np.asarray(obs.q, dtype=np.float64)[:7])  # keep the start posture
        self._start_attempt(np.asarray(obs.q, dtype=np.float64))

    def act(self, obs: Any) -> np.ndarray:
        """Efforts for this control step (arm torques in Nm, gripper in [-1, 1])."""
        if self.phase is None:
            raise ExpertError("ScriptedExpert.act called before reset")
        q, qd = np.asarray(obs.q, dtype=np.float64), np.asarray(obs.qd, dtype=np.float64)
        self.steps_in_phase += 1
        self._update_phase(q)
        target, twist = self.segment.advance()
        tau = self.controller.torques(q[:7], qd[:7], target, twist)
        return np.concatenate([tau, [self.gripper]])

    # ------------------------------------------------------------------ phases
    def _start_attempt(self, q: np.ndarray) -> None:
        """Re-read the objects and head above red with the gripper open."""
        self.attempts += 1
        self.red = self.scene.geometry("red")
        self.blue = self.scene.geometry("blue")
        current = self.controller.pose(q[:7])
        self.grasp_rotation = self._grasp_rotation(self.red, current.rotation)
        self.gripper = GRIPPER_OPEN
        tallest = max(self.red.top, self.blue.top, self.scene.geometry("green").top)
        above = np.array([*self.red.center[:2], tallest + self.config.hover])
        self._go(Phase.APPROACH, Pose(above, self.grasp_rotation), self.config.fast_speed, current)

    def _go(self, phase: Phase, goal: Pose, speed: float, start: Pose | None = None) -> None:
        start = start if start is not None else self.segment.goal
        self.phase = phase
        self.steps_in_phase = 0
        self.segment = _Segment(start, goal, speed * self.speed_scale, self.dt)

    def _reached(self, q: np.ndarray) -> bool:
        """The pinch point is at the goal, or has had `settle_steps` to get there (blocked by a contact)."""
        if not self.segment.finished:
            return False
        if self.segment.overtime >= self.config.settle_steps:
            return True
        err = self.controller.pose(q[:7]).error_to(self.segment.goal)
        return (np.linalg.norm(err[:3]) < self.config.position_tolerance
                and np.linalg.norm(err[3:]) < self.config.angle_tolerance)

    def _update_phase(self, q: np.ndarray) -> None:
        c = self.config
        reached = self._reached(q) or self.steps_in_phase > c.phase_timeout_steps
        goal = self.segment.goal
        if self.phase is Phase.APPROACH and reached:
            z = max(self.red.top - min(c.grasp_depth, 0.5 * self.red.height), self.scene.floor_z + c.floor_clearance)
            self._go(Phase.DESCEND, Pose([*goal.position[:2], z], goal.rotation), c.slow_speed)
        elif self.phase is Phase.DESCEND and reached:
            self.gripper = GRIPPER_CLOSE
            self._go(Phase.CLOSE, goal, c.slow_speed)
        elif self.phase is Phase.CLOSE and self.steps_in_phase >= c.close_steps:
            self.blue = self.scene.geometry("blue")
            red = self.scene.geometry("red")
            clear = max(self.blue.top, self.scene.geometry("green").top) + c.lift
            z = goal.position[2] + clear - red.bottom
            self._go(Phase.LIFT, Pose([*goal.position[:2], z], goal.rotation), c.slow_speed)
        elif self.phase is Phase.LIFT and reached:
            red = self.scene.geometry("red")
            if red.bottom < self.scene.floor_z + 0.02:  # red not lifted with the hand: try again
                self._start_attempt(q)
                return
            offset = self.controller.pose(q[:7]).position[:2] - red.center[:2]  # red's place in the hand
            xy = self.blue.center[:2] + offset
            self._go(Phase.TRANSPORT, Pose([*xy, goal.position[2]], goal.rotation), c.fast_speed)
        elif self.phase is Phase.TRANSPORT and reached:
            red, self.blue = self.scene.geometry("red"), self.scene.geometry("blue")
            pinch = self.controller.pose(q[:7]).position
            xy = goal.position[:2] + (self.blue.center[:2] - red.center[:2])  # correct residual offset
            z = pinch[2] - (red.bottom - (self.blue.top + c.place_gap))
            self._go(Phase.PLACE, Pose([*xy, z], goal.rotation), c.slow_speed)
        elif self.phase is Phase.PLACE and reached:
            self.gripper = GRIPPER_OPEN
            self._go(Phase.RELEASE, goal, c.slow_speed)
        elif self.phase is Phase.RELEASE and self.steps_in_phase >= c.release_steps:
            up = goal.position + np.array([0.0, 0.0, c.retreat])
            self._go(Phase.RETREAT, Pose(up, goal.rotation), c.slow_speed)
        elif self.phase is Phase.RETREAT and reached:
            if self.scene.red_on_blue():
                self._go(Phase.DONE, goal, c.slow_speed)
            else:
                self._start_attempt(q)

    # ------------------------------------------------------------------ grasp choice
    def _grasp_rotation(self, red: ObjectGeometry, current: np.ndarray) -> np.ndarray:
        """Top-down gripper rotation whose closing axis spans red's narrowest horizontal width (<= max width),
        keeps the open fingers clear of the other objects, and among equivalent yaws (the gripper is symmetric
        under pi) turns the wrist least."""
        c = self.config
        down = self.scene.top_down_rotation
        axis0 = down @ self.scene.closing_axis
        cur_yaw = float(np.arctan2(current[1, 0], current[0, 0]))
        down_yaw = float(np.arctan2(down[1, 0], down[0, 0]))
        center = red.center[:2]
        xy = red.vertices[:, :2] - center
        others = np.concatenate([self.scene.geometry(col).vertices[:, :2] for col in ("green", "blue")]) - center
        best, best_cost = 0.0, np.inf
        for yaw in np.linspace(-np.pi / 2, np.pi / 2, 73)[:-1]:
            a = (yaw_matrix(yaw) @ axis0)[:2]
            a /= np.linalg.norm(a)
            perp = np.array([-a[1], a[0]])
            width = float(np.ptp(xy @ a))
            along, across = others @ a, others @ perp
            near_finger = np.abs(np.abs(along) - c.finger_reach) < c.finger_size
            blocked = bool(np.any(near_finger & (np.abs(across) < c.finger_size)))
            cost = width + (1.0 if width > c.max_gripper_width else 0.0) + (0.5 if blocked else 0.0)
            for cand in (yaw, yaw + np.pi):
                turn = abs(np.angle(np.exp(1j * (down_yaw + cand - cur_yaw))))
                if cost + 0.01 * turn < best_cost:
                    best, best_cost = cand, cost + 0.01 * turn
        return yaw_matrix(best) @ down
