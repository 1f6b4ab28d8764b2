"""Replay a robot log in the sim: start from the logged joint state, apply the logged efforts at their times, and
compare the simulated joint trajectory with the logged one (per-joint divergence table and plot).

Arm-only replay: the objects are moved out of reach (a log does not say where they were), the gripper starts open
and follows the logged grip command. With `segment_s` > 0 the sim restarts from the logged state at the start of
every segment (what `fit` compares); with 0 it runs open loop over the whole log.

`excite` makes a reference log in the sim (multi-sine torques around a PD hold at HOME_Q): with known, altered
dynamics it is the test that `fit` recovers them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mujoco
import numpy as np

from gato_ros.interfaces import ARM_JOINTS, OBJECT_COLORS
from gato_ros.sim2real.log import RobotLog

ARM = len(ARM_JOINTS)
#: PD gains of the excitation's hold around HOME_Q (Nm/rad, Nm s/rad) and its multi-sine amplitude (fraction of the
#: effort limit, per sine; three sines per joint)
EXCITE_KP = np.array([150.0, 150.0, 60.0, 60.0, 12.0, 12.0, 12.0])
EXCITE_KD = np.array([5.0, 5.0, 2.0, 2.0, 0.3, 0.3, 0.3])
EXCITE_AMPLITUDE = 0.08
EXCITE_FREQ_HZ = (0.3, 2.5)


class ReplayError(ValueError):
    """A log cannot be replayed in this sim (joint out of range, no samples in a segment)."""


def _arm_addresses(model: mujoco.MjModel) -> tuple[np.ndarray, np.ndarray]:
    return (np.array([model.joint(j).qposadr[0] for j in ARM_JOINTS]),
            np.array([model.joint(j).dofadr[0] for j in ARM_JOINTS]))


def clear_objects(env: Any) -> None:
    """Move the red, green and blue objects far out of the arm's reach (at rest)."""
    m, d = env.model, env.data
    for i, color in enumerate(OBJECT_COLORS):
        jnt = m.joint(f"{color}_joint")
        d.qpos[jnt.qposadr[0]:jnt.qposadr[0] + 7] = [10.0 + i, 10.0, 0.5, 1.0, 0.0, 0.0, 0.0]
        d.qvel[jnt.dofadr[0]:jnt.dofadr[0] + 6] = 0.0
    mujoco.mj_forward(m, d)


def set_arm_state(env: Any, q: np.ndarray, qd: np.ndarray) -> None:
    """Arm joint positions and velocities (first 7 entries of JOINT_NAMES order) into the sim, now."""
    qadr, vadr = _arm_addresses(env.model)
    env.data.qpos[qadr] = q[:ARM]
    env.data.qvel[vadr] = qd[:ARM]
    env.data.qacc_warmstart[:] = 0.0
    mujoco.mj_forward(env.model, env.data)


def arm_state(env: Any) -> tuple[np.ndarray, np.ndarray]:
    """The true arm joint positions and velocities (no sensor noise)."""
    qadr, vadr = _arm_addresses(env.model)
    return env.data.qpos[qadr].copy(), env.data.qvel[vadr].copy()


def simulate(env: Any, log: RobotLog, i0: int, i1: int) -> tuple[np.ndarray, np.ndarray]:
    """Arm (q, qd) at the log's samples i0..i1-1, starting from the logged state at i0 and applying the logged
    efforts at their times (rounded to physics steps)."""
    t = log.t_state
    dt = float(env.model.opt.timestep)
    set_arm_state(env, log.q[i0], log.qd[i0])
    qs, qds = [log.q[i0, :ARM].copy()], [log.qd[i0, :ARM].copy()]
    step = 0  # physics steps since t[i0]
    inner = log.t_effort[(log.t_effort > t[i0]) & (log.t_effort < t[i1 - 1])]
    j = 0
    for k in range(i0 + 1, i1):
        cur = t[k - 1]
        while True:
            nxt = inner[j] if j < len(inner) and inner[j] < t[k] else t[k]
            target = int(round((nxt - t[i0]) / dt))
            if target > step:
                env.physics_step(log.effort_at(cur), target - step)
                step = target
            if nxt == t[k]:
                break
            cur = nxt
            j += 1
        q, qd = arm_state(env)
        qs.append(q)
        qds.append(qd)
    return np.array(qs), np.array(qds)


def segments(log: RobotLog, segment_s: float) -> list[tuple[int, int]]:
    """Sample ranges [i0, i1) of `segment_s` seconds each (the whole log when 0); a short tail joins the last."""
    n = len(log.t_state)
    if segment_s <= 0:
        return [(0, n)]
    bounds = [0]
    for i in range(1, n):
        if log.t_state[i] - log.t_state[bounds[-1]] >= segment_s - 1e-9:
            bounds.append(i)
    if bounds[-1] != n - 1 and n - bounds[-1] < 3 and len(bounds) > 1:
        bounds.pop()
    bounds.append(n - 1)
    return [(a, b + 1) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


@dataclass(frozen=True)
class ReplayResult:
    """Logged and simulated arm trajectories at the log's sample times."""

    t: np.ndarray
    q_log: np.ndarray
    q_sim: np.ndarray
    qd_log: np.ndarray
    qd_sim: np.ndarray
    segment_s: float
    source: str

    def table(self) -> list[dict[str, Any]]:
        """Per joint: RMS, max and final |q_sim - q_log| (rad) and RMS velocity error (rad/s)."""
        e, ev = self.q_sim - self.q_log, self.qd_sim - self.qd_log
        return [{"joint": name, "rms_rad": float(np.sqrt(np.mean(e[:, i] ** 2))),
                 "max_rad": float(np.max(np.abs(e[:, i]))), "final_rad": float(abs(e[-1, i])),
                 "rms_vel_rad_s": float(np.sqrt(np.mean(ev[:, i] ** 2)))} for i, name in enumerate(ARM_JOINTS)]

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "duration_s": float(self.t[-1] - self.t[0]), "samples": len(self.t),
                "segment_s": self.segment_s, "joints": self.table()}


def replay(log: RobotLog, env: Any, segment_s: float = 0.0) -> ReplayResult:
    """Replay `log` in `env` (a StackingEnv: its cell, dynamics and randomization are the sim compared)."""
    lo, hi = env.robot.position_limits[:ARM, 0], env.robot.position_limits[:ARM, 1]
    outside = np.any((log.q[:, :ARM] < lo - 0.05) | (log.q[:, :ARM] > hi + 0.05), axis=0)
    if np.any(outside):
        raise ReplayError(f"{log.source}: logged positions beyond the sim's joint limits for "
                          f"{[ARM_JOINTS[i] for i in np.flatnonzero(outside)]}")
    env.reset(0)
    clear_objects(env)
    q_sim, qd_sim = [], []
    for i0, i1 in segments(log, segment_s):
        q, qd = simulate(env, log, i0, i1)
        q_sim.append(q)
        qd_sim.append(qd)
    q_all, qd_all = _join(q_sim), _join(qd_sim)
    return ReplayResult(log.t_state.copy(), log.q[:, :ARM].copy(), q_all, log.qd[:, :ARM].copy(), qd_all, segment_s,
                        log.source)


def _join(parts: list[np.ndarray]) -> np.ndarray:
    """Segments share their boundary sample: keep the restarted (logged) value there, drop the previous end."""
    out = [parts[0]]
    for p in parts[1:]:
        out[-1] = out[-1][:-1]
        out.append(p)
    return np.concatenate(out)


def report_lines(result: ReplayResult) -> list[str]:
    mode = f"restarted every {result.segment_s:g} s" if result.segment_s > 0 else "open loop"
    lines = [f"{result.source}: {len(result.t)} samples over {result.t[-1] - result.t[0]:.2f} s, {mode}",
             f"{'joint':>10} {'rms (rad)':>10} {'max (rad)':>10} {'final (rad)':>11} {'rms vel (rad/s)':>15}"]
    lines += [f"{r['joint']:>10} {r['rms_rad']:>10.4f} {r['max_rad']:>10.4f} {r['final_rad']:>11.4f} "
              f"{r['rms_vel_rad_s']:>15.4f}" for r in result.table()]
    return lines


def plot(result: ReplayResult, path: str | Path, label: str = "sim") -> Path:
    """Per joint: logged and simulated position (left) and |divergence| (right) over time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(ARM, 2, figsize=(10, 1.5 * ARM + 1), sharex=True)
    for i, name in enumerate(ARM_JOINTS):
        axes[i, 0].plot(result.t, result.q_log[:, i], "k", lw=1.2, label="log")
        axes[i, 0].plot(result.t, result.q_sim[:, i], "C1", lw=1.0, ls="--", label=label)
        axes[i, 0].set_ylabel(f"{name}\n(rad)", fontsize=7)
        axes[i, 1].semilogy(result.t, np.abs(result.q_sim[:, i] - result.q_log[:, i]) + 1e-7, "C3", lw=1.0)
        axes[i, 1].set_ylabel("|sim - log|", fontsize=7)
        for ax in axes[i]:
            ax.tick_params(labelsize=7)
    axes[0, 0].legend(fontsize=7)
    axes[-1, 0].set_xlabel("time (s)")
    axes[-1, 1].set_xlabel("time (s)")
    mode = f"restarted every {result.segment_s:g} s" if result.segment_s > 0 else "open loop"
    fig.suptitle(f"replay of {Path(result.source).name} ({mode})", fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def excite(env: Any, seconds: float, seed: int = 0, rate_hz: float = 100.0) -> tuple[np.ndarray, ...]:
    """(t, q [K, 8], qd [K, 8], effort [K, 8]) of a multi-sine torque excitation around a PD hold at HOME_Q in
    `env`, objects out of reach; effort row k is applied from sample k to sample k + 1."""
    from gato_ros.sim.env import HOME_Q

    if not (seconds > 0 and rate_hz > 0):
        raise ReplayError(f"seconds and rate_hz must be > 0, got {seconds}, {rate_hz}")
    rng = np.random.default_rng(seed)
    freqs = rng.uniform(*EXCITE_FREQ_HZ, size=(ARM, 3))
    phases = rng.uniform(0, 2 * np.pi, size=(ARM, 3))
    amp = EXCITE_AMPLITUDE * env.effort_limits[:ARM]
    env.reset(seed)
    clear_objects(env)
    dt = float(env.model.opt.timestep)
    n = max(1, int(round(1.0 / rate_hz / dt)))
    ts, qs, qds, us = [], [], [], []
    home = np.asarray(HOME_Q)
    for k in range(int(round(seconds * rate_hz)) + 1):
        t = k * n * dt
        q, qd = arm_state(env)
        grip = env.data.qpos[env.model.joint("gripper/left_driver_joint").qposadr[0]]
        ff = (amp[:, None] * np.sin(2 * np.pi * freqs * t + phases)).sum(axis=1)
        u = np.clip(EXCITE_KP * (home - q) - EXCITE_KD * qd + ff, -env.effort_limits[:ARM], env.effort_limits[:ARM])
        effort = np.append(u, -1.0)
        ts.append(t)
        qs.append(np.append(q, grip))
        qds.append(np.append(qd, 0.0))
        us.append(effort)
        env.physics_step(effort, n)
    return np.array(ts), np.array(qs), np.array(qds), np.array(us)
