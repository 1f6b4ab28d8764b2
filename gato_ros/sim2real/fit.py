"""Fit the sim's arm dynamics to robot logs: per-joint damping, friction loss, armature and torque gain that
minimise the replay divergence (scipy.optimize.least_squares over short segments, each restarted from the logged
state, so one early error does not dominate the fit).

Two stages. (1) An equation-error estimate, linear least squares per joint: with the sim's rigid-body model
(MuJoCo inverse dynamics with those four parameters zeroed) giving the torque tau_rb each logged interval needs,
gain * u - damping * qd - armature * qdd - friction * sign(qd) = tau_rb (midpoint q, qd; qdd from the velocity
difference; moving samples only). (2) The output-error fit from there: parameters as log factors of the stage-1
values, bounded to [e^-3, e^3] x those, residuals the position errors (per 1 mrad) and velocity errors (per
10 mrad/s) at every logged sample of every segment. The result is an ArmDynamics (gato_ros.sim.dynamics).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import mujoco
import numpy as np

from gato_ros.interfaces import ARM_JOINTS
from gato_ros.sim.dynamics import ArmDynamics, arm_ids
from gato_ros.sim2real.log import RobotLog
from gato_ros.sim2real.replay import ARM, clear_objects, segments, simulate

FIT_PARAMS = ("joint_damping", "joint_friction", "joint_armature", "torque_gain")
Q_SCALE = 1e-3  # rad: a position residual of 1 = 1 mrad
QD_SCALE = 1e-2  # rad/s
LOG_BOUND = 3.0
MOVING_RAD_S = 0.02  # stage 1 uses samples where the joint moves faster than this
RIDGE = 1e-4  # stage 1's ridge, relative to the largest eigenvalue of its normal equations


class FitError(ValueError):
    """The fit cannot run (no logs, unknown parameter names, a log too short for one segment)."""


@dataclass(frozen=True)
class FitResult:
    dynamics: ArmDynamics  # fitted (every field set)
    start: ArmDynamics  # the sim's values before the fit
    estimate: ArmDynamics  # stage 1 (equation error), where stage 2 started
    cost_start: float  # RMS position divergence (rad) over all segments, before and after
    cost_end: float
    evaluations: int
    wall_s: float
    segment_s: float
    params: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"fitted": self.dynamics.to_dict(), "start": self.start.to_dict(), "params": list(self.params),
                "equation_error_estimate": self.estimate.to_dict(),
                "rms_divergence_rad": {"start": self.cost_start, "fitted": self.cost_end},
                "segment_s": self.segment_s, "evaluations": self.evaluations, "wall_s": round(self.wall_s, 2)}


class _Problem:
    """Residuals of a parameter vector: replay every segment of every log with those parameters."""

    def __init__(self, env: Any, logs: list[RobotLog], segment_s: float, params: tuple[str, ...],
                 start: ArmDynamics) -> None:
        self.env, self.logs, self.params, self.start = env, logs, params, start
        self.dofs, self.acts = arm_ids(env.model)
        self.scratch = mujoco.MjData(env.model)
        self.pieces = [(log, i0, i1) for log in logs for i0, i1 in segments(log, segment_s) if i1 - i0 >= 2]
        if not self.pieces:
            raise FitError(f"no segment of {segment_s} s with two samples in the logs")
        self.evaluations = 0

    def dynamics(self, x: np.ndarray) -> ArmDynamics:
        values = {}
        for k, name in enumerate(self.params):
            values[name] = tuple(np.asarray(getattr(self.start, name)) * np.exp(x[k * ARM:(k + 1) * ARM]))
        return replace(self.start, **values)

    def simulate(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.dynamics(x).apply(self.env.model, self.dofs, self.acts)
        mujoco.mj_setConst(self.env.model, self.scratch)
        dq, dqd = [], []
        for log, i0, i1 in self.pieces:
            q, qd = simulate(self.env, log, i0, i1)
            dq.append(q[1:] - log.q[i0 + 1:i1, :ARM])
            dqd.append(qd[1:] - log.qd[i0 + 1:i1, :ARM])
        self.evaluations += 1
        return np.concatenate(dq), np.concatenate(dqd)

    def residuals(self, x: np.ndarray) -> np.ndarray:
        dq, dqd = self.simulate(x)
        return np.concatenate([(dq / Q_SCALE).ravel(), (dqd / QD_SCALE).ravel()])

    def rms(self, x: np.ndarray) -> float:
        return float(np.sqrt(np.mean(self.simulate(x)[0] ** 2)))


def equation_error_estimate(env: Any, logs: list[RobotLog], params: tuple[str, ...], start: ArmDynamics
                            ) -> ArmDynamics:
    """Stage 1 (module docstring): per joint, linear least squares for the fitted parameters; the others stay at
    `start`. A joint whose estimate is not positive keeps its start values."""
    m = env.model
    dofs, acts = arm_ids(m)
    qadr = np.array([m.joint(j).qposadr[0] for j in ARM_JOINTS])
    stripped = ArmDynamics(joint_damping=(0.0,) * ARM, joint_friction=(0.0,) * ARM, joint_armature=(0.0,) * ARM)
    saved = ArmDynamics.of_model(m, dofs, acts)
    stripped.apply(m, dofs, acts)
    d = mujoco.MjData(m)
    d.qpos[:] = env.data.qpos
    rows: list[list[np.ndarray]] = [[] for _ in range(ARM)]
    targets: list[list[float]] = [[] for _ in range(ARM)]
    try:
        for log in logs:
            dt = np.diff(log.t_state)
            for k in range(len(dt)):
                if dt[k] <= 0:
                    continue
                q = 0.5 * (log.q[k, :ARM] + log.q[k + 1, :ARM])
                qd = 0.5 * (log.qd[k, :ARM] + log.qd[k + 1, :ARM])
                qdd = (log.qd[k + 1, :ARM] - log.qd[k, :ARM]) / dt[k]
                d.qpos[qadr] = q
                d.qvel[:] = 0.0
                d.qvel[dofs] = qd
                d.qacc[:] = 0.0
                d.qacc[dofs] = qdd
                mujoco.mj_inverse(m, d)
                tau = d.qfrc_inverse[dofs]
                u = log.effort_at(log.t_state[k])[:ARM]
                for j in range(ARM):
                    if abs(qd[j]) < MOVING_RAD_S:
                        continue
                    terms = {"torque_gain": u[j], "joint_damping": -qd[j], "joint_armature": -qdd[j],
                             "joint_friction": -np.sign(qd[j])}
                    fixed = sum(terms[n] * getattr(start, n)[j] for n in FIT_PARAMS if n not in params)
                    rows[j].append(np.array([terms[n] for n in params]))
                    targets[j].append(tau[j] - fixed)
    finally:
        saved.apply(m, dofs, acts)
    values = {n: list(getattr(start, n)) for n in params}
    for j in range(ARM):
        if len(rows[j]) < 2 * len(params):
            continue
        # relative to the start values, with a weak ridge: a direction the data cannot see stays at the start (e.g.
        # all four scaled together when the armature dominates the link inertia, as for the wrist roll j6)
        s0 = np.array([getattr(start, n)[j] for n in params])
        a = np.stack(rows[j]) * s0
        r = np.array(targets[j]) - a.sum(axis=1)
        gram = a.T @ a
        ridge = RIDGE * np.linalg.eigvalsh(gram).max()
        delta = np.linalg.solve(gram + ridge * np.eye(len(params)), a.T @ r)
        sol = s0 * (1.0 + delta)
        if np.all(sol > 0):
            for n, v in zip(params, sol):
                values[n][j] = float(v)
    return replace(start, **{n: tuple(v) for n, v in values.items()})


def fit(logs: list[RobotLog], cell: str = "primitive", segment_s: float = 0.5, params: tuple[str, ...] = FIT_PARAMS,
        start: ArmDynamics | str | None = None, max_evaluations: int = 400, progress: bool = False) -> FitResult:
    """Fit `params` (subset of FIT_PARAMS) of every arm joint to `logs`; see the module docstring."""
    from scipy.optimize import least_squares

    from gato_ros.sim.env import StackingEnv

    if not logs:
        raise FitError("give at least one log")
    unknown = sorted(set(params) - set(FIT_PARAMS))
    if unknown or not params:
        raise FitError(f"params must be a non-empty subset of {FIT_PARAMS}, got {list(params)}")
    t0 = time.perf_counter()
    env = StackingEnv(cell=cell, dynamics=start)
    env.reset(0)
    clear_objects(env)
    dofs, acts = arm_ids(env.model)
    first = ArmDynamics.of_model(env.model, dofs, acts)
    zero_start = [n for n in params if np.any(np.asarray(getattr(first, n)) <= 0)]
    if zero_start:
        raise FitError(f"cannot fit {zero_start} from a start value of 0 (fitted as factors); give --start with "
                       f"positive values")
    estimate = equation_error_estimate(env, logs, tuple(params), first)
    problem = _Problem(env, logs, segment_s, tuple(params), estimate)
    x0 = np.zeros(len(params) * ARM)
    cost_start = _Problem(env, logs, segment_s, tuple(params), first).rms(x0)
    result = least_squares(problem.residuals, x0, bounds=(-LOG_BOUND, LOG_BOUND), method="trf", x_scale="jac",
                           diff_step=1e-4, xtol=1e-8, ftol=1e-8, max_nfev=max(1, max_evaluations // (len(x0) + 1)),
                           verbose=2 if progress else 0)  # trf counts iterations, not the Jacobian's replays
    cost_end = problem.rms(result.x)  # leaves the fitted values in the model
    fitted = ArmDynamics.of_model(env.model, dofs, acts)  # every field: fitted ones and the others as they are
    note = (f"fitted by gato-ros sim2real fit to {len(logs)} log(s), {len(problem.pieces)} segments of "
            f"{segment_s:g} s; RMS divergence {cost_start:.3g} -> {cost_end:.3g} rad")
    return FitResult(replace(fitted, note=note), first, estimate, cost_start, cost_end, problem.evaluations,
                     time.perf_counter() - t0, segment_s, tuple(params))


def comparison_lines(result: FitResult, truth: ArmDynamics | None = None) -> list[str]:
    """Per parameter and joint: start, fitted (and true, when known, with the relative error)."""
    lines = [f"RMS position divergence {result.cost_start:.4g} rad -> {result.cost_end:.4g} rad "
             f"({result.evaluations} evaluations, {result.wall_s:.1f} s)"]
    for name in result.params:
        lines.append(f"{name}:")
        fitted, first = getattr(result.dynamics, name), getattr(result.start, name)
        for i, joint in enumerate(ARM_JOINTS):
            row = (f"  {joint:>9} start {first[i]:9.4g} stage 1 {getattr(result.estimate, name)[i]:9.4g} "
                   f"fitted {fitted[i]:9.4g}")
            if truth is not None and getattr(truth, name) is not None:
                true = getattr(truth, name)[i]
                row += f" true {true:9.4g} error {100 * (fitted[i] - true) / true:+6.1f}%"
            lines.append(row)
    return lines
