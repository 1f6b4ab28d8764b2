"""Shadow-mode agreement: how close the agent's shadow actions came to what the arm was sent.

A shadow run (`shadow:=true`, docs/SIM2REAL.md) has the safety node publish, every tick, the arm's efforts
(/effort_controller/commands: the operator's filtered command, or hold) and what the agent's command would have given
through the same filter (/safety/shadow_output). Both are recorded (`record:=DIR` with `shadow:=true`, or
`ros2 bag record`); this module pairs each shadow sample with the arm sample of the same tick (nearest receive time)
and reports per joint the mean absolute difference in units of the joint's effort limit, the correlation and the sign
agreement.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gato_ros.interfaces import EFFORT_OUTPUT_TOPIC, SHADOW_OUTPUT_TOPIC

#: Sign agreement counts only samples where both efforts exceed this fraction of the joint's effort limit (a sign
#: of noise around zero says nothing).
SIGN_DEADBAND = 0.01
#: A side whose standard deviation is below this fraction of the effort limit counts as constant: no correlation (a
#: held arm's output is numerical noise around zero).
CONSTANT_STD = 1e-4
#: The largest receive-time gap (s) between a shadow and an arm sample paired as one tick (safety publishes at 100 Hz).
MAX_GAP_S = 0.005


class ShadowLogError(ValueError):
    """A bag that cannot be compared (not a bag, unreadable, without both safety outputs, wrong lengths)."""


@dataclass(frozen=True)
class ShadowLog:
    """Paired samples: t [K] (s from the first), shadow and arm efforts [K, n]; how many shadow samples had no pair."""

    t: np.ndarray
    shadow: np.ndarray
    arm: np.ndarray
    unpaired: int
    source: str


def read_shadow_log(path: str | Path, max_gap_s: float = MAX_GAP_S) -> ShadowLog:
    """The paired shadow and arm outputs of the rosbag2 bag at `path`."""
    from rosbags.rosbag2 import Reader
    from rosbags.typesys import Stores, get_typestore

    path = Path(path)
    if not (path / "metadata.yaml").is_file():
        raise ShadowLogError(f"{path} is not a rosbag2 directory (no metadata.yaml)")
    ts = get_typestore(Stores.ROS2_KILTED)
    series: dict[str, list[tuple[int, np.ndarray]]] = {EFFORT_OUTPUT_TOPIC: [], SHADOW_OUTPUT_TOPIC: []}
    try:
        with Reader(path) as reader:
            conns = [c for c in reader.connections if c.topic in series]
            for conn, t_ns, raw in reader.messages(connections=conns) if conns else ():  # none given = all
                series[conn.topic].append((t_ns, np.asarray(ts.deserialize_cdr(raw, conn.msgtype).data, np.float64)))
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bag we cannot use
        raise ShadowLogError(f"{path} is not a readable rosbag2 bag: {type(exc).__name__}: {exc}") from exc
    missing = [topic for topic, rows in series.items() if not rows]
    if missing:
        raise ShadowLogError(
            f"{path} has no {' and no '.join(missing)} messages; a shadow comparison needs both "
            f"{SHADOW_OUTPUT_TOPIC} and {EFFORT_OUTPUT_TOPIC}: record a shadow run with `shadow:=true record:=DIR` "
            f"(the recorder then records the safety outputs) or `ros2 bag record -s mcap {EFFORT_OUTPUT_TOPIC} "
            f"{SHADOW_OUTPUT_TOPIC}`")
    sizes = {len(e) for rows in series.values() for _, e in rows}
    if len(sizes) != 1:
        raise ShadowLogError(f"{path}: the safety outputs must all have the same number of efforts, "
                             f"got {sorted(sizes)}")
    t_arm = np.array([t for t, _ in series[EFFORT_OUTPUT_TOPIC]], dtype=np.int64)
    arm = np.stack([e for _, e in series[EFFORT_OUTPUT_TOPIC]])
    order = np.argsort(t_arm, kind="stable")
    t_arm, arm = t_arm[order], arm[order]
    t_sh, shadow, partner = [], [], []
    for t, e in series[SHADOW_OUTPUT_TOPIC]:
        i = int(np.searchsorted(t_arm, t))
        near = [j for j in (i - 1, i) if 0 <= j < len(t_arm)]
        j = min(near, key=lambda k: abs(int(t_arm[k]) - t))
        if abs(int(t_arm[j]) - t) <= max_gap_s * 1e9:
            t_sh.append(t)
            shadow.append(e)
            partner.append(j)
    unpaired = len(series[SHADOW_OUTPUT_TOPIC]) - len(t_sh)
    if len(t_sh) < 2:
        raise ShadowLogError(f"{path}: fewer than 2 shadow samples have an arm sample within {max_gap_s * 1e3:g} ms "
                             f"({unpaired} unpaired); were both outputs recorded at the same time?")
    t0 = t_sh[0]
    return ShadowLog(t=(np.asarray(t_sh) - t0) * 1e-9, shadow=np.stack(shadow), arm=arm[partner], unpaired=unpaired,
                     source=str(path))


def _correlation(a: np.ndarray, b: np.ndarray) -> float | None:
    """Pearson correlation of two series (units of the effort limit); None when either is constant (CONSTANT_STD)."""
    if a.size < 2 or np.std(a) < CONSTANT_STD or np.std(b) < CONSTANT_STD:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def _sign_agreement(a: np.ndarray, b: np.ndarray, deadband: float) -> tuple[float | None, int]:
    """Share of samples with the same sign among those where both exceed the deadband; and how many those were."""
    both = (np.abs(a) > deadband) & (np.abs(b) > deadband)
    n = int(np.sum(both))
    return (float(np.mean(np.sign(a[both]) == np.sign(b[both]))) if n else None), n


def agreement(log: ShadowLog, joint_names: tuple[str, ...], effort_limits: np.ndarray,
              deadband: float = SIGN_DEADBAND) -> dict[str, Any]:
    """Per joint and overall: mean |shadow - arm| / effort limit, correlation, sign agreement (JSON-ready)."""
    n = log.shadow.shape[1]
    if len(joint_names) != n or len(effort_limits) != n:
        raise ShadowLogError(f"{log.source}: the outputs have {n} efforts but the robot has {len(joint_names)} joints "
                             f"{list(joint_names)}: pick the robot that was run (--robot)")
    limits = np.where(np.asarray(effort_limits, np.float64) > 0, effort_limits, 1.0)
    s, a = log.shadow / limits, log.arm / limits  # in units of the effort limit
    rows = []
    for i, name in enumerate(joint_names):
        sign, n_sign = _sign_agreement(s[:, i], a[:, i], deadband)
        rows.append({"joint": name, "effort_limit": float(limits[i]),
                     "mae_limit": float(np.mean(np.abs(s[:, i] - a[:, i]))),
                     "correlation": _correlation(s[:, i], a[:, i]), "sign_agreement": sign, "sign_samples": n_sign,
                     "shadow_rms_limit": float(np.sqrt(np.mean(s[:, i] ** 2))),
                     "arm_rms_limit": float(np.sqrt(np.mean(a[:, i] ** 2)))})
    sign, n_sign = _sign_agreement(s.reshape(-1), a.reshape(-1), deadband)
    overall = {"mae_limit": float(np.mean(np.abs(s - a))), "correlation": _correlation(s.reshape(-1), a.reshape(-1)),
               "sign_agreement": sign, "sign_samples": n_sign}
    return {"bag": log.source, "samples": int(len(log.t)), "duration_s": float(log.t[-1] - log.t[0]),
            "unpaired_shadow_samples": log.unpaired, "sign_deadband_limit": deadband, "joints": rows,
            "overall": overall}


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def report_lines(result: dict[str, Any]) -> list[str]:
    """The agreement as a table (one row per joint, then overall)."""
    lines = [f"{result['bag']}: {result['samples']} paired samples over {result['duration_s']:.2f} s "
             f"({result['unpaired_shadow_samples']} shadow samples unpaired)",
             "shadow (agent through the safety filter) vs arm (operator or hold), efforts in units of the effort limit",
             f"{'joint':>20} {'mean |diff|':>11} {'corr':>6} {'sign agree':>10} {'(n)':>6} {'shadow rms':>10} "
             f"{'arm rms':>8}"]
    for r in result["joints"]:
        lines.append(f"{r['joint']:>20} {r['mae_limit']:>11.4f} {_fmt(r['correlation'], '6.3f'):>6} "
                     f"{_fmt(r['sign_agreement'], '10.3f'):>10} {r['sign_samples']:>6} {r['shadow_rms_limit']:>10.4f} "
                     f"{r['arm_rms_limit']:>8.4f}")
    o = result["overall"]
    lines.append(f"{'overall':>20} {o['mae_limit']:>11.4f} {_fmt(o['correlation'], '6.3f'):>6} "
                 f"{_fmt(o['sign_agreement'], '10.3f'):>10} {o['sign_samples']:>6}")
    return lines


def plot(log: ShadowLog, joint_names: tuple[str, ...], path: str | Path) -> Path:
    """Per joint: the shadow and the arm's effort over time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(joint_names)
    fig, axes = plt.subplots(n, 1, figsize=(9, 1.3 * n + 1), sharex=True)
    for i, name in enumerate(joint_names):
        axes[i].plot(log.t, log.arm[:, i], "k", lw=1.0, label="arm (operator / hold)")
        axes[i].plot(log.t, log.shadow[:, i], "C1", lw=1.0, ls="--", label="shadow (agent)")
        axes[i].set_ylabel(name, fontsize=7)
        axes[i].tick_params(labelsize=7)
    axes[0].legend(fontsize=7)
    axes[-1].set_xlabel("time (s)")
    fig.suptitle(f"shadow vs arm efforts (Nm; gripper normalized): {Path(log.source).name}", fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
