"""SafetyFilter: pure logic from requested efforts and joint states to the efforts the robot may receive.

No ROS here: the node feeds it commands, joint states and e-stops with a monotonic time `t` (seconds)
and publishes `output(t)`. Everything it changes or refuses is counted by kind.

Rules (docs/SAFETY.md): it starts holding until `reset()` (`safe_start`); an e-stop and (with `latch_faults`)
a fault hold until `reset()`; a refused command holds at once (`hold_on_invalid_command`); a joint state beyond
the plausible bounds is refused and is a fault; every damping torque is bounded by `damping_torque_limit`; the
output is always finite and within the effort limits. First contact (docs/SIM2REAL.md): commanded arm efforts
are multiplied by `effort_scale` (<= 1) before the rate limit, and a pinch point outside `workspace_box` holds
until it is back inside.
"""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Protocol

import numpy as np

from gato_ros.safety.config import SafetyConfig
from gato_ros.safety.holding import hold_torques


class SafetyError(RuntimeError):
    """The robot model does not fit the safety configuration."""


class RobotLimits(Protocol):
    """What the filter needs of `gato_ros.robot.RobotModel`."""

    joint_names: Any
    arm_joint_names: Any
    effort_limits: Any
    position_limits: Any
    velocity_limits: Any

    def gravity_torques(self, q7: np.ndarray) -> np.ndarray: ...

    def fk(self, q7: np.ndarray) -> np.ndarray: ...  # 4x4 pose of the pinch point (needed with a workspace box)


class Mode(str, enum.Enum):
    """ACTIVE passes (filtered) commands; HOLD, ESTOP and FAULT output hold torques."""

    ACTIVE = "active"
    HOLD = "hold"
    ESTOP = "estop"
    FAULT = "fault"


@dataclass(frozen=True)
class JointLimits:
    """Per-joint limits in `joint_names` order, plus which joints are arm joints (torque-controlled)."""

    names: tuple[str, ...]
    effort: np.ndarray
    position: np.ndarray  # [n, 2]
    velocity: np.ndarray
    arm: np.ndarray  # bool mask
    gravity: Callable[[np.ndarray], np.ndarray]  # arm q (joint_names order) -> arm torques (same order)
    pinch: Callable[[np.ndarray], np.ndarray] | None  # arm q (joint_names order) -> pinch point [3], base frame

    @classmethod
    def from_robot(cls, robot: RobotLimits, joint_names: tuple[str, ...]) -> JointLimits:
        """Pick the robot's limits by name, so any order of `joint_names` works; unknown names are an error."""
        robot_names = list(robot.joint_names)
        missing = [n for n in joint_names if n not in robot_names]
        if missing:
            raise SafetyError(f"joint_names {missing} are not in the robot model (it has {robot_names})")
        idx = np.array([robot_names.index(n) for n in joint_names])
        arm_names = list(robot.arm_joint_names)
        arm = np.array([n in arm_names for n in joint_names])
        if sorted(n for n in joint_names if n in arm_names) != sorted(arm_names):
            raise SafetyError(f"joint_names must contain every arm joint {arm_names}, got {list(joint_names)}")
        # arm joints in joint_names order -> robot arm order, for gravity_torques(q7)
        ours = [n for n in joint_names if n in arm_names]
        to_robot = np.array([ours.index(n) for n in arm_names])
        from_robot = np.argsort(to_robot)

        def gravity(q_arm: np.ndarray) -> np.ndarray:
            return np.asarray(robot.gravity_torques(np.asarray(q_arm)[to_robot]), dtype=np.float64)[from_robot]

        fk = getattr(robot, "fk", None)

        def pinch(q_arm: np.ndarray) -> np.ndarray:
            return np.asarray(fk(np.asarray(q_arm)[to_robot]), dtype=np.float64)[:3, 3]

        return cls(
            names=tuple(joint_names),
            effort=np.asarray(robot.effort_limits, dtype=np.float64)[idx],
            position=np.asarray(robot.position_limits, dtype=np.float64)[idx],
            velocity=np.asarray(robot.velocity_limits, dtype=np.float64)[idx],
            arm=arm,
            gravity=gravity,
            pinch=pinch if fk is not None else None,
        )


class SafetyFilter:
    """Validates, limits and, when anything is stale or wrong, replaces the requested efforts with hold torques."""

    def __init__(self, robot: RobotLimits, config: SafetyConfig) -> None:
        self.config = config
        self.limits = JointLimits.from_robot(robot, config.joint_names)
        self.n = len(config.joint_names)
        self.limit_damping = np.asarray(config.limit_damping, dtype=np.float64)
        self.hold_damping = np.asarray(config.hold_damping, dtype=np.float64)
        self.damping_limit = np.asarray(config.damping_torque_limit, dtype=np.float64)
        lo, hi = self.limits.position[:, 0], self.limits.position[:, 1]
        has_range = np.isfinite(lo) & np.isfinite(hi) & (hi > lo)
        margin = config.plausible_position_margin_rad
        self._plausible_lo = np.where(has_range, lo - margin, -np.inf)
        self._plausible_hi = np.where(has_range, hi + margin, np.inf)
        vel = self.limits.velocity
        self._plausible_speed = np.where(self.limits.arm & np.isfinite(vel) & (vel > 0),
                                         config.plausible_velocity_factor * vel, np.inf)
        self._nominal_dt = 1.0 / config.publish_rate_hz
        # first contact: the commanded part of every arm effort is scaled (gripper commands are not)
        self._scale = np.where(self.limits.arm, config.effort_scale, 1.0)
        self._box = np.asarray(config.workspace_box, dtype=np.float64).reshape(-1, 3) if config.workspace_box \
            else None
        if self._box is not None and self.limits.pinch is None:
            raise SafetyError("workspace_box needs the robot's pinch-point kinematics (fk); this robot model has none")
        self._outside: str | None = None  # why the newest joint state's pinch point is outside the box
        self.counts: Counter[str] = Counter()
        self.last_reason: str = "starting: no command or joint state yet"  # the newest intervention
        self.mode: Mode = Mode.HOLD
        self.reason: str = "starting"  # why the current mode (the newest output's)
        self._armed = not config.safe_start
        self._invalid: str | None = None
        self._command: np.ndarray | None = None
        self._command_t = -np.inf
        self._q: np.ndarray | None = None
        self._qd: np.ndarray | None = None
        self._state_t = -np.inf
        self._estop = False
        self._fault: str | None = None
        self._fault_t = -np.inf
        self._gripper_hold = 0.0
        self._ramp = np.zeros(self.n)  # rate-limited command part of the last output
        self._last_t: float | None = None
        self._hold_reason: str | None = None

    # ----------------------------------------------------------------- inputs

    def command(self, efforts: Any, t: float) -> bool:
        """Take a requested effort vector; NaN/inf or a wrong length is refused and holds at once
        (with `hold_on_invalid_command` false the previous command stays until it times out)."""
        try:
            arr = np.array(efforts, dtype=np.float64).reshape(-1)  # a copy, never the caller's array
        except (TypeError, ValueError, OverflowError):
            return self._invalid_command("malformed_command", f"command is not a numeric array: {efforts!r:.80}")
        if arr.shape[0] != self.n:
            return self._invalid_command("wrong_length", f"command has {arr.shape[0]} values, expected {self.n} "
                                                         f"({', '.join(self.limits.names)})")
        if not np.all(np.isfinite(arr)):
            bad = [self.limits.names[i] for i in np.flatnonzero(~np.isfinite(arr))]
            return self._invalid_command("nonfinite_command", f"command has NaN/inf for {bad}")
        over = np.abs(arr) > self.limits.effort
        if np.any(over):
            self._count("effort_clamp", f"command over the effort limit for "
                                        f"{[self.limits.names[i] for i in np.flatnonzero(over)]}; clamped")
            arr = np.clip(arr, -self.limits.effort, self.limits.effort)
        self._command = arr
        self._command_t = float(t)
        self._invalid = None
        self._gripper_hold = float(arr[~self.limits.arm][0]) if np.any(~self.limits.arm) else 0.0
        return True

    def joint_state(self, q: Any, qd: Any, t: float) -> bool:
        """Take positions and velocities in `joint_names` order measured at time `t`.

        Non-finite values or wrong lengths are refused; values beyond the plausible bounds (a position past its
        limit by more than `plausible_position_margin_rad`, an arm speed above `plausible_velocity_factor` times
        its URDF limit) are refused and are a fault (hold, latched with `latch_faults`).
        """
        try:
            q = np.array(q, dtype=np.float64).reshape(-1)  # copies: callers may reuse their arrays in place
            qd = np.array(qd, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError, OverflowError):
            return self._reject("bad_joint_state", "joint state is not numeric")
        if q.shape[0] != self.n or qd.shape[0] != self.n:
            return self._reject("bad_joint_state", f"joint state has {q.shape[0]} positions and {qd.shape[0]} "
                                                   f"velocities, expected {self.n}")
        if not (np.all(np.isfinite(q)) and np.all(np.isfinite(qd))):
            return self._reject("bad_joint_state", "joint state has NaN/inf")
        bad_q = (q < self._plausible_lo) | (q > self._plausible_hi)
        bad_qd = np.abs(qd) > self._plausible_speed
        if np.any(bad_q) or np.any(bad_qd):
            parts = [f"{self.limits.names[i]} at {q[i]:.4g} rad (limits {self.limits.position[i, 0]:.4g}.."
                     f"{self.limits.position[i, 1]:.4g})" for i in np.flatnonzero(bad_q)]
            parts += [f"{self.limits.names[i]} at {qd[i]:.4g} rad/s (limit {self.limits.velocity[i]:.4g})"
                      for i in np.flatnonzero(bad_qd)]
            self.implausible("joint state out of plausible bounds: " + ", ".join(parts), t)
            return False
        self._q, self._qd, self._state_t = q, qd, float(t)
        self._outside = self._workspace_violation(q)
        return True

    def implausible(self, reason: str, t: float) -> None:
        """A joint state that cannot be true (out of bounds, stamp going back): a fault, the sample is not used."""
        self.fault(reason, t, kind="implausible_joint_state")

    def estop(self, reason: str = "e-stop requested") -> None:
        """Latch an emergency stop: hold until `reset()`."""
        if not self._estop:
            self._count("estop", reason)
        self._estop = True

    def fault(self, reason: str, t: float, kind: str = "fault") -> None:
        """An internal error at time `t`: hold until `reset()` (or, without `latch_faults`, for command_timeout_s)."""
        self._count(kind, reason)
        self._fault = reason
        self._fault_t = float(t)

    def reset(self) -> str:
        """Clear e-stop, faults and the safe-start hold; a fresh command is needed before efforts flow again.
        Returns what was cleared."""
        cleared = [what for what, on in (("safe-start hold", not self._armed), ("e-stop", self._estop),
                                         (f"fault ({self._fault})", self._fault)) if on]
        self._armed = True
        self._estop = False
        self._fault = None
        self._invalid = None
        self._command = None
        self._command_t = -np.inf
        self.counts["reset"] += 1
        return "cleared " + ", ".join(cleared) if cleared else "nothing latched"

    def note(self, kind: str, reason: str) -> None:
        """Count an intervention made outside the filter (e.g. a joint-state message the node refused)."""
        self._count(kind, reason)

    @property
    def estopped(self) -> bool:
        return self._estop

    @property
    def armed(self) -> bool:
        """False from start until the first `reset()` when `safe_start` is on."""
        return self._armed

    # ----------------------------------------------------------------- output

    def output(self, t: float) -> tuple[np.ndarray, Mode, tuple[str, ...]]:
        """The efforts to publish at time `t`, the mode, and the kinds of intervention applied this tick."""
        dt = self._nominal_dt if self._last_t is None else min(max(t - self._last_t, 0.0), 2 * self._nominal_dt)
        self._last_t = t
        mode, kind, detail = self._decide(t)
        applied: list[str] = []
        arm = self.limits.arm
        gravity = None
        if self.config.add_gravity_compensation and self._q is not None:
            gravity = self.limits.gravity(self._q[arm])
        if mode is Mode.ACTIVE:
            out = self._active(dt, applied)
            if gravity is not None:
                out[arm] += gravity
        else:
            qd = self._qd if self._state_fresh(t) else None
            out = hold_torques(qd, self.hold_damping, arm, self._gripper_hold, gravity, self.damping_limit)
            if qd is not None and np.any(np.abs(self.hold_damping * qd)[arm] > self.damping_limit[arm]):
                applied.append("damping_clamp")
            self._ramp = out.copy() if gravity is None else self._without_gravity(out, gravity)
            self.counts["hold_ticks"] += 1
            applied.append(mode.value)
        if mode is not self.mode or (mode is not Mode.ACTIVE and kind != self._hold_reason):
            if mode is not Mode.ACTIVE:  # one count per entry into a hold, by cause
                self._count(f"{mode.value}:{kind}", detail)
            self._hold_reason = kind if mode is not Mode.ACTIVE else None
        self.mode = mode
        self.reason = detail or "passing commands"
        clipped = np.clip(out, -self.limits.effort, self.limits.effort)
        if np.any(clipped != out):
            applied.append("output_clamp")
        out = clipped
        if not np.all(np.isfinite(out)):  # never publish NaN, whatever went wrong above
            self._count("nonfinite_output", "filter produced NaN/inf; publishing zero arm torques")
            out = np.where(np.isfinite(out), out, 0.0)
            applied.append("nonfinite_output")
        for kind in applied:
            if kind not in (m.value for m in Mode):
                self.counts[kind] += 1
        return out, mode, tuple(applied)

    def status(self) -> dict[str, Any]:
        """Mode, last reason and counts, for diagnostics."""
        return {"mode": self.mode.value, "reason": self.reason, "last_reason": self.last_reason, "armed": self._armed,
                "effort_scale": self.config.effort_scale,
                "interventions": sum(v for k, v in self.counts.items() if k not in ("hold_ticks", "reset")),
                **dict(sorted(self.counts.items()))}

    # ----------------------------------------------------------------- internals

    def _decide(self, t: float) -> tuple[Mode, str, str]:
        """(mode, cause, detail) from the latches and the ages of the newest state and command."""
        if self._estop:
            return Mode.ESTOP, "estop", "e-stop latched until ~/reset"
        if self._fault is not None and not self.config.latch_faults \
                and t - self._fault_t > self.config.command_timeout_s:
            self._fault = None
        if self._fault is not None:
            return Mode.FAULT, "fault", self._fault
        if not self._armed:
            return Mode.HOLD, "safe_start", "holding since start (safe start): call ~/reset to enable"
        if self._q is None:
            return Mode.HOLD, "no_joint_state", "no joint state received yet"
        if not self._state_fresh(t):
            return Mode.HOLD, "state_timeout", f"joint state {t - self._state_t:.3f} s old"
        if self._outside is not None:
            return Mode.HOLD, "workspace", self._outside
        if self._command is None and self._invalid is not None:
            return Mode.HOLD, "invalid_command", f"refused command ({self._invalid}); waiting for a valid one"
        if self._command is None:
            return Mode.HOLD, "no_command", "no command received since start or reset"
        age = t - self._command_t
        if age > self.config.command_timeout_s:
            return Mode.HOLD, "command_timeout", f"newest command {age:.3f} s old"
        return Mode.ACTIVE, "active", ""

    def _workspace_violation(self, q: np.ndarray) -> str | None:
        """Why the pinch point at joint positions `q` is outside `workspace_box`, or None (inside, or no box)."""
        if self._box is None:
            return None
        assert self.limits.pinch is not None
        p = self.limits.pinch(q[self.limits.arm])
        lo, hi = self._box
        if np.all(p >= lo) and np.all(p <= hi):
            return None
        return (f"pinch point ({p[0]:.3f}, {p[1]:.3f}, {p[2]:.3f}) m outside workspace_box "
                f"[{lo[0]:g}..{hi[0]:g}, {lo[1]:g}..{hi[1]:g}, {lo[2]:g}..{hi[2]:g}]: holding until it is back inside")

    def _state_fresh(self, t: float) -> bool:
        return self._q is not None and t - self._state_t <= self.config.state_timeout_s

    def _active(self, dt: float, applied: list[str]) -> np.ndarray:
        """Rate-limit the command, then add limit damping (never rate-limited: it must act at once)."""
        assert self._command is not None and self._q is not None and self._qd is not None
        step = self.config.max_effort_rate * dt
        target = self._command * self._scale  # effort_scale <= 1: never more than the command asked for
        ramp = np.clip(target, self._ramp - step, self._ramp + step)
        if np.any(ramp != target):
            applied.append("rate_limit")
        self._ramp = ramp
        out = ramp.copy()
        arm = self.limits.arm
        q, qd = self._q, self._qd
        lo, hi = self.limits.position[:, 0], self.limits.position[:, 1]
        margin = self.config.position_margin_rad
        # near a position limit and moving towards it: damping growing from 0 at the margin to full at the limit
        if margin > 0:
            depth_hi = np.clip(1.0 - (hi - q) / margin, 0.0, 1.0)
            depth_lo = np.clip(1.0 - (q - lo) / margin, 0.0, 1.0)
        else:
            depth_hi = (q >= hi).astype(float)
            depth_lo = (q <= lo).astype(float)
        depth = np.where(qd > 0, depth_hi, np.where(qd < 0, depth_lo, 0.0))
        near = arm & (depth > 0)
        beyond_hi = arm & (q >= hi) & (out > 0)
        beyond_lo = arm & (q <= lo) & (out < 0)
        damping = np.zeros(self.n)
        if np.any(near) or np.any(beyond_hi) or np.any(beyond_lo):
            damping[near] -= self.limit_damping[near] * depth[near] * qd[near]
            out[beyond_hi | beyond_lo] = 0.0  # at or past a limit: no commanded push further out
            applied.append("position_limit")
        # above the velocity limit: drop the command along the motion and brake
        vmax = self.config.velocity_limit_scale * self.limits.velocity
        fast = arm & (np.abs(qd) > vmax)
        if np.any(fast):
            along = np.sign(out[fast]) == np.sign(qd[fast])
            out[fast] = np.where(along, 0.0, out[fast])
            damping[fast] -= self.limit_damping[fast] * qd[fast]
            applied.append("velocity_limit")
        bounded = np.clip(damping, -self.damping_limit, self.damping_limit)
        if np.any(bounded != damping):
            applied.append("damping_clamp")
        return out + bounded

    def _without_gravity(self, out: np.ndarray, gravity: np.ndarray) -> np.ndarray:
        ramp = out.copy()
        ramp[self.limits.arm] -= gravity
        return ramp

    def _invalid_command(self, kind: str, reason: str) -> bool:
        """Refuse a command; with `hold_on_invalid_command` drop the current one too, so the output holds now."""
        if self.config.hold_on_invalid_command:
            self._command = None
            self._invalid = f"{kind}: {reason}"
        return self._reject(kind, reason)

    def _reject(self, kind: str, reason: str) -> bool:
        self._count(kind, reason)
        return False

    def _count(self, kind: str, reason: str) -> None:
        self.counts[kind] += 1
        self.last_reason = f"{kind}: {reason}"
