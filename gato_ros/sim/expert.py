"""Scripted torque expert that stacks red on blue: a state-feedback policy, so its action is a function of what
it sees now (arm and gripper joint state, the objects' poses and shapes), never of a clock or a remembered phase.

Why: a learner can only imitate what it can infer. The phase (approach, descend, close, lift, transport, place,
release, retreat, done) is re-derived every step from the gripper opening, where red is relative to the pinch
point and to blue, and heights; goals move smoothly with the state (no target jumps) and every step moves the
pinch point at most a bounded distance towards its goal (bounded torques). Because `act` depends only on the
current state, `label(obs)` can relabel any state a learner visits (DAgger). A failed grasp (gripper closed on
nothing, or red slipping out) falls back to the approach by the same rules.

It reads the objects' true poses and shapes from the simulator (privileged state, as scripted experts do).
`done` means red rests on blue, released, and the arm has backed off (SceneReader.red_on_blue); the benchmark's
success test (StackingEnv.success) additionally needs the objects' centres at the stacking height apart.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import numpy as np

from gato_ros.control import CartesianImpedanceController, ImpedanceGains, Pose, yaw_matrix
from gato_ros.control.pose import matrix_to_rotvec
from gato_ros.interfaces import CARTESIAN_MAX_STEP, CARTESIAN_MAX_TURN
from gato_ros.robot.registry import DEFAULT_ROBOT, load_robot
from gato_ros.sim.expert_scene import ObjectGeometry, SceneReader

#: (goal position, goal rotation, (horizontal, vertical) lead per step, gripper command)
Decision = tuple[np.ndarray, np.ndarray, tuple[float, float], float]

GRIPPER_OPEN = -1.0
GRIPPER_CLOSE = 1.0


class ExpertError(RuntimeError):
    """The expert was used out of order (act before reset) or the scene lacks what it needs."""


class Phase(str, enum.Enum):
    """What the expert is doing this step (derived from the state; reported, never remembered)."""

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
    """Heights (m, base frame), per-step moves (m, rad per 50 ms step), gripper angles (rad) and tolerances."""

    hover: float = 0.05  # pinch point above the tallest object's top while approaching
    lift: float = 0.04  # red's bottom above the taller of blue and green while transporting
    grasp_depth: float = 0.04  # pinch point below red's top (capped at half its height: grip near the middle)
    floor_clearance: float = 0.012  # pinch point never below the basket floor plus this
    place_gap: float = 0.003  # red's bottom above blue's top when released
    release_height: float = 0.006  # red's bottom within this of blue's top (and centred): open the gripper
    stall_height: float = 0.02  # red's bottom within this above blue's top, centred, not descending: release
    stall_speed: float = 0.01  # m/s: a descent slower than this has stopped
    retreat: float = 0.08  # pinch point above red's top once released
    fast_step: float = CARTESIAN_MAX_STEP  # goal lead per control step in free space (x position_gain 10/s = 0.24 m/s)
    slow_step: float = 0.005  # near objects
    turn_step: float = CARTESIAN_MAX_TURN  # rad of wrist lead per step
    align_xy: float = 0.006  # pinch within this of red's centre (horizontally) to descend fully
    align_yaw: float = 0.08  # rad
    grasp_tolerance: float = 0.008  # pinch within this of the grasp point to close
    gripper_open: float = 0.12  # driver angle below which the gripper counts as open
    gripper_holding: tuple[float, float] = (0.15, 0.7)  # driver angles of a closed grip on an object
    holding_distance: float = 0.035  # red's centre within this of the pinch point (horizontally) while held
    max_gripper_width: float = 0.075  # widest object span the 2F-85 (85 mm stroke) grasps reliably
    finger_reach: float = 0.05  # open finger pads' distance from the pinch point along the closing axis
    finger_size: float = 0.02  # half extent of the zone around each open finger kept clear of other objects
    turn_cost: float = 0.02  # m of grasp width a radian of wrist turn is worth (hysteresis of the grasp yaw)


#: Per-arm changes to ExpertConfig for arms other than the Sawyer. Gripper thresholds stay in 2F-85 driver-angle
#: units: the arm's reported gripper position is mapped linearly onto the Sawyer's 0 (open) .. 0.8 (closed) range
#: (ScriptedExpert._driver_angle). Panda: open above 38.5 mm per finger, holding between 2 and 38 mm; the Franka
#: Hand's palm sits 27 mm above its pinch point (the 2F-85's much higher), so it grasps 18 mm below red's top, and
#: its palm spans about +-0.105 m along the closing axis: the zones kept clear of other objects reach that far.
ROBOT_PRESETS: dict[str, dict[str, Any]] = {
    "panda": {"gripper_open": 0.03, "gripper_holding": (0.04, 0.76), "grasp_depth": 0.018, "finger_reach": 0.07,
              "finger_size": 0.035},
}


def _ramp(x: float, lo: float, hi: float) -> float:
    """0 below lo, 1 above hi, linear between: the smooth switch every phase boundary goes through."""
    return float(np.clip((x - lo) / (hi - lo), 0.0, 1.0))


def _clamp(v: np.ndarray, limit: float) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v if n <= limit else v * (limit / n)


def _yaw(rotation: np.ndarray) -> float:
    return float(np.arctan2(rotation[1, 0], rotation[0, 0]))


class ScriptedExpert:
    """`act(obs) -> efforts[8]` (7 arm torques on top of gravity compensation, normalized gripper effort)."""

    def __init__(self, env: Any, seed: int = 0, config: ExpertConfig | None = None,
                 gains: ImpedanceGains | None = None) -> None:
        self.env = env
        desc = getattr(env, "description", None)  # the registry arm (StackingEnv); None: the Sawyer
        self._gripper = None if desc is None or desc.name == DEFAULT_ROBOT else desc.gripper
        self.config = config or ExpertConfig(**ROBOT_PRESETS.get(getattr(desc, "name", DEFAULT_ROBOT), {}))
        self.scene = SceneReader(env)
        self.robot = self.scene.robot
        self.controller = CartesianImpedanceController(self.robot, gains)
        self.seed = int(seed)  # kept for the API; the policy itself is deterministic
        self.phase: Phase | None = None
        self.attempts = 0
        self.last_command: np.ndarray | None = None  # the Cartesian command of the last label (demo recording)
        # the grasp yaws weighed at the last approach step: [N, 3] rows (yaw, cost, signed wrist turn) (a diagnostic)
        self.last_grasp_candidates: np.ndarray | None = None

    # ------------------------------------------------------------------ public API
    @property
    def done(self) -> bool:
        """True once red rests on blue, released, and the arm has backed off."""
        return self.phase is Phase.DONE

    def reset(self, obs: Any) -> None:
        """Start of an episode: the null-space posture is the start posture (the same home pose every episode)."""
        self.controller.set_posture(np.asarray(obs.q, dtype=np.float64)[:7])
        self.attempts = 0
        self.phase = Phase.APPROACH
        self.red, self.blue = self.scene.geometry("red"), self.scene.geometry("blue")

    def act(self, obs: Any) -> np.ndarray:
        """Efforts for this control step (arm torques in Nm, gripper in [-1, 1]); counts grasp attempts."""
        if self.phase is None:
            raise ExpertError("ScriptedExpert.act called before reset")
        before = self.phase
        action = self.label(obs)
        if self.phase is Phase.CLOSE and before is not Phase.CLOSE:
            self.attempts += 1
        return action

    def label(self, obs: Any) -> np.ndarray:
        """The expert's action for any state (a function of `obs` and the scene now; usable for DAgger): its
        `command` turned into arm torques by the impedance controller."""
        q, qd = np.asarray(obs.q, dtype=np.float64), np.asarray(obs.qd, dtype=np.float64)
        command = self.last_command = self.command(obs)
        return np.concatenate([self.controller.lead_torques(q[:7], qd[:7], command[:6]), command[6:]])

    def command(self, obs: Any) -> np.ndarray:
        """[7] the expert's Cartesian command for any state: the pinch point's lead this step (3, m, base frame), the
        wrist's turn (rotation vector, 3, rad) and the gripper command; sets `phase`. Both moves are bounded per
        step (ExpertConfig.fast_step, slow_step, turn_step)."""
        q, qd = np.asarray(obs.q, dtype=np.float64), np.asarray(obs.qd, dtype=np.float64)
        pose = self.controller.pose(q[:7])
        velocity = np.asarray(self.robot.jacobian(q[:7]), dtype=np.float64)[:3] @ qd[:7]
        goal, rotation, step, gripper = self._decide(pose, velocity, self._driver_angle(float(q[7])))
        delta = goal - pose.position
        lead = np.append(_clamp(delta[:2], step[0]), np.clip(delta[2], -step[1], step[1]))
        turn = _clamp(matrix_to_rotvec(rotation @ pose.rotation.T), self.config.turn_step)
        return np.concatenate([lead, turn, [gripper]])

    def _driver_angle(self, position: float) -> float:
        """The gripper's reported position as the 2F-85 driver angle the thresholds are written in (Sawyer: as is)."""
        if self._gripper is None:
            return position
        g, sawyer = self._gripper, load_robot(DEFAULT_ROBOT).gripper
        fraction = (position - g.open) / (g.closed - g.open)
        return sawyer.open + fraction * (sawyer.closed - sawyer.open)

    # ------------------------------------------------------------------ the policy
    def _decide(self, pose: Pose, velocity: np.ndarray, grip: float) -> Decision:
        """(goal position, goal rotation, (horizontal, vertical) lead per step, gripper command) from the state (pinch
        pose and linear velocity, gripper angle, objects); sets `phase`."""
        c = self.config
        red, blue, green = (self.scene.geometry(col) for col in ("red", "blue", "green"))
        self.red, self.blue = red, blue
        p = pose.position
        to_pinch = red.center - p
        between_fingers = float(np.linalg.norm(to_pinch[:2])) < c.holding_distance \
            and red.bottom - 0.015 < p[2] < red.top + 0.015
        holding = between_fingers and c.gripper_holding[0] < grip < c.gripper_holding[1]
        red_xy_to_blue = float(np.linalg.norm(red.center[:2] - blue.center[:2]))
        above_blue = red.bottom - blue.top
        seated = red_xy_to_blue < 0.02 and -0.01 < above_blue < c.release_height
        # lowering over blue but stopped short (the fingers rest on a wider blue): let go from there
        stalled = holding and red_xy_to_blue < 0.015 and 0.0 < above_blue < c.stall_height and \
            float(velocity[2]) > -c.stall_speed
        if seated or stalled:
            return self._release(pose, grip, red)
        if holding:
            return self._carry(pose, red, blue, green, red_xy_to_blue)
        return self._approach(pose, grip, red, blue, green)

    def _release(self, pose: Pose, grip: float, red: ObjectGeometry) -> Decision:
        """Red sits on blue: open in place, then back straight up; done once open and clear."""
        c = self.config
        p = pose.position
        if grip > c.gripper_open:
            self.phase = Phase.RELEASE
            return p.copy(), pose.rotation, (c.slow_step, c.slow_step), GRIPPER_OPEN
        up = np.array([p[0], p[1], red.top + c.retreat])
        self.phase = Phase.DONE if up[2] - p[2] < 0.01 else Phase.RETREAT
        return up, pose.rotation, (c.slow_step, c.slow_step), GRIPPER_OPEN

    def _carry(self, pose: Pose, red: ObjectGeometry, blue: ObjectGeometry, green: ObjectGeometry,
               red_xy_to_blue: float) -> Decision:
        """Red in the hand: lift clear of the others, move over blue (sideways only once clear), lower onto it."""
        c = self.config
        p = pose.position
        clear = max(blue.top, green.top) + c.lift  # red's bottom while transporting
        carry_z = p[2] + clear - red.bottom
        place_z = p[2] + blue.top + c.place_gap - red.bottom
        over_xy = p[:2] + blue.center[:2] - red.center[:2]  # pinch xy that puts red over blue
        height = _ramp(red.bottom, clear - 0.03, clear - 0.005)  # how far sideways motion is allowed
        xy = p[:2] + height * (over_xy - p[:2])
        lower = 1.0 - _ramp(red_xy_to_blue, 0.012, 0.024)  # over blue: go down to the place height
        z = carry_z + lower * (place_z - carry_z)
        if lower > 0.5:
            self.phase = Phase.PLACE
        else:
            self.phase = Phase.LIFT if height < 1.0 else Phase.TRANSPORT
        step = (c.fast_step if height == 1.0 else c.slow_step, c.slow_step if lower > 0.0 else c.fast_step)
        return np.array([xy[0], xy[1], z]), pose.rotation, step, GRIPPER_CLOSE

    def _approach(self, pose: Pose, grip: float, red: ObjectGeometry, blue: ObjectGeometry,
                  green: ObjectGeometry) -> Decision:
        """Red not held: open, go above red at the grasp yaw, descend once aligned, close at the grasp point."""
        c = self.config
        p = pose.position
        rotation = self._grasp_rotation(red, pose.rotation)
        tallest = max(red.top, blue.top, green.top)
        hover_z = tallest + c.hover
        grasp_z = max(red.top - min(c.grasp_depth, 0.5 * red.height), self.scene.floor_z + c.floor_clearance)
        xy_err = float(np.linalg.norm(p[:2] - red.center[:2]))
        yaw_err = abs(float(np.angle(np.exp(1j * (_yaw(rotation) - _yaw(pose.rotation))))))
        misaligned = max(_ramp(xy_err, c.align_xy, 2.5 * c.align_xy), _ramp(yaw_err, c.align_yaw, 2.5 * c.align_yaw))
        z = grasp_z + misaligned * (hover_z - grasp_z)
        # far below the hover height: rise before moving sideways (never sweep through the objects)
        sideways = max(_ramp(p[2], tallest + 0.005, tallest + 0.03), 1.0 - _ramp(xy_err, 0.01, 0.03))
        xy = p[:2] + sideways * (red.center[:2] - p[:2])
        at_grasp = xy_err < c.grasp_tolerance and abs(p[2] - grasp_z) < c.grasp_tolerance and yaw_err < c.align_yaw
        closed_on_nothing = grip >= c.gripper_holding[1]
        gripper = GRIPPER_CLOSE if at_grasp and not closed_on_nothing else GRIPPER_OPEN
        if gripper == GRIPPER_CLOSE:
            self.phase = Phase.CLOSE
        else:
            self.phase = Phase.DESCEND if misaligned < 1.0 and p[2] < hover_z - 0.01 else Phase.APPROACH
        low = p[2] < tallest + 0.02
        step = (c.slow_step if low else c.fast_step, c.slow_step if low or misaligned < 1.0 else c.fast_step)
        return np.array([xy[0], xy[1], z]), rotation, step, gripper

    # ------------------------------------------------------------------ grasp choice
    def _grasp_rotation(self, red: ObjectGeometry, current: np.ndarray) -> np.ndarray:
        """Top-down gripper rotation whose closing axis spans red's narrowest horizontal width (<= max width),
        keeps the open fingers clear of the other objects, and among near-equal yaws (the gripper is symmetric
        under pi) turns the wrist least from where it is now: the turn cost is the hysteresis that keeps the
        choice from jumping when red moves a little. The first candidate of least cost wins."""
        candidates = self.last_grasp_candidates = self.grasp_candidates(red, current)
        return yaw_matrix(float(candidates[int(np.argmin(candidates[:, 1])), 0])) @ self.scene.top_down_rotation

    def grasp_candidates(self, red: ObjectGeometry, current: np.ndarray) -> np.ndarray:
        """[N, 3] rows (yaw, cost, signed wrist turn to it) of every top-down grasp weighed, 2.5 degree steps: cost =
        red's width along the closing axis (m) + 1 if wider than the gripper + 0.5 if a finger would land on another
        object + turn_cost x |turn|."""
        c = self.config
        down = self.scene.top_down_rotation
        axis0 = down @ self.scene.closing_axis
        cur_yaw, down_yaw = _yaw(current), _yaw(down)
        center = red.center[:2]
        xy = red.vertices[:, :2] - center
        others = np.concatenate([self.scene.geometry(col).vertices[:, :2] for col in ("green", "blue")]) - center
        rows = []
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
                turn = float(np.angle(np.exp(1j * (down_yaw + cand - cur_yaw))))
                rows.append((cand, cost + c.turn_cost * abs(turn), turn))
        return np.array(rows)
