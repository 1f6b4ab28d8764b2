"""Fault reactions of the real safety / agent / sim nodes over DDS (issue 14), measured, written as JSON.

    MUJOCO_GL=egl ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST ROS_DOMAIN_ID=77 \
        .venv/bin/python benchmarks/safety_faults.py [--flood-s 10] [--flood-rate 5000] [--skip-sim]

Writes benchmarks/results/safety_faults.json (docs/SAFETY.md quotes it). Each part starts its own processes:
  flood      5,000 msg/s on /gato/effort_command from another process: output rate, longest gap (observer and the
             node's own max_period_s), e-stop latency during the flood (reliable and best-effort), RSS
  estop      idle e-stop latency from a reliable and a best-effort publisher
  restart    e-stop latched, safety SIGKILLed and restarted: does it hold (safe start / transient-local e-stop)
  implausible  joint state with 1e3 and 1e9 rad/s: largest arm torque out, mode, count
  permuted   agent configure with right_j0/gripper_joint swapped in gato.json, and with a 7-joint gato.json
  sigint     `gato-ros run stacking --sim true` (sim + safety + agent): SIGINT -> every node's exit; and the agent
             alone with use_sim_time and no /clock
The helpers are also used by test/test_safety_faults_dds.py (shorter runs, loose bounds).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "safety_faults.json"
CMD = np.array([5.0, -5.0, 3.0, -3.0, 1.0, -1.0, 0.5, 0.6])
LIMITS = np.array([80, 80, 40, 40, 9, 9, 9, 1.0])
JOINTS = [f"right_j{i}" for i in range(7)] + ["gripper_joint"]
CLI = [sys.executable, "-c", "import sys; from gato_ros.cli import main; sys.exit(main(sys.argv[1:]))"]

FLOODER = textwrap.dedent("""
    import sys, time, rclpy
    from rclpy.node import Node
    from rclpy.qos import QoSProfile, ReliabilityPolicy, HistoryPolicy
    from std_msgs.msg import Float64MultiArray
    rate, seconds, data = float(sys.argv[1]), float(sys.argv[2]), [float(x) for x in sys.argv[3].split(',')]
    rclpy.init()
    n = Node('flooder')
    p = n.create_publisher(Float64MultiArray, '/gato/effort_command',
                           QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                                      reliability=ReliabilityPolicy.RELIABLE))
    msg = Float64MultiArray(data=data)
    print('ready', flush=True)
    sys.stdin.readline()
    t0 = time.monotonic(); sent = 0
    while (now := time.monotonic()) - t0 < seconds:
        due = int((now - t0) * rate) + 1
        while sent < due:
            p.publish(msg); sent += 1
        time.sleep(0.0002)
    print(f'sent {sent} {time.monotonic() - t0:.3f}', flush=True)
""")


# ----------------------------------------------------------------------------- processes

def start_safety(env: dict[str, str], **params: object) -> subprocess.Popen:
    args = [sys.executable, "-m", "gato_ros.nodes.safety", "--ros-args"]
    defaults = {"diagnostics_period_s": 0.25}
    for key, value in {**defaults, **params}.items():
        args += ["-p", f"{key}:={value}"]
    return subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def stop(proc: subprocess.Popen, timeout: float = 5.0) -> tuple[int | None, float]:
    """SIGINT, wait; returns (exit code or None when it had to be killed, seconds it took)."""
    t0 = time.monotonic()
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return None, time.monotonic() - t0
    return proc.returncode, time.monotonic() - t0


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


# ----------------------------------------------------------------------------- observer

class Observer:
    """In-process rclpy node: fake joint-state driver, command source, e-stop buttons (reliable and best effort,
    and a transient-local one), output and diagnostics recorder, ~/reset client."""

    def __init__(self) -> None:
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.node import Node
        from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
        from sensor_msgs.msg import JointState
        from std_msgs.msg import Bool, Float64MultiArray
        from std_srvs.srv import Trigger

        self._rclpy, self._JointState, self._Bool = rclpy, JointState, Bool
        self._F64, self._Trigger = Float64MultiArray, Trigger
        self.context = Context()
        rclpy.init(context=self.context)
        self.node = Node("fault_observer", context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        reliable = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE)
        latched = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.lock = threading.Lock()
        self.outputs: list[tuple[float, np.ndarray]] = []
        self.diagnostics: list[tuple[float, dict[str, str]]] = []
        self.q = np.zeros(8)
        self.qd = np.zeros(8)
        self.publish_states = True
        self.cmd_pub = self.node.create_publisher(Float64MultiArray, "/gato/effort_command", reliable)
        self.js_pub = self.node.create_publisher(JointState, "/joint_states", qos_profile_sensor_data)
        self.estop_pubs = {"reliable": self.node.create_publisher(Bool, "/gato/estop", reliable),
                           "best_effort": self.node.create_publisher(Bool, "/gato/estop", qos_profile_sensor_data)}
        self.latched_estop_qos = latched
        self.reset_client = self.node.create_client(Trigger, "/safety/reset")
        self.node.create_subscription(Float64MultiArray, "/effort_controller/commands", self._on_output, reliable)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diag, reliable)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._spin, daemon=True),
                         threading.Thread(target=self._driver, daemon=True)]
        for t in self._threads:
            t.start()

    def _spin(self) -> None:
        while self.context.ok() and not self._stop.is_set():
            try:
                self.executor.spin_once(timeout_sec=0.05)
            except Exception:  # noqa: BLE001 - shutting down
                return

    def _driver(self) -> None:
        while not self._stop.wait(0.01):
            if self.publish_states:
                msg = self._JointState(name=JOINTS, position=[float(x) for x in self.q],
                                       velocity=[float(x) for x in self.qd])
                msg.header.stamp = self.node.get_clock().now().to_msg()
                try:
                    self.js_pub.publish(msg)
                except Exception:  # noqa: BLE001 - shutting down
                    return

    def _on_output(self, msg: Any) -> None:
        with self.lock:
            self.outputs.append((time.monotonic(), np.array(msg.data)))

    def _on_diag(self, msg: Any) -> None:
        from gato_ros.nodes.common import diagnostic_values

        for status in msg.status:
            if status.name.startswith("safety"):
                with self.lock:
                    self.diagnostics.append((time.monotonic(), {"message": status.message,
                                                                **diagnostic_values(status)}))

    def command(self, data: np.ndarray) -> float:
        self.cmd_pub.publish(self._F64(data=[float(x) for x in data]))
        return time.monotonic()

    def stream(self, data: np.ndarray, seconds: float, rate: float = 50.0) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.command(data)
            time.sleep(1.0 / rate)

    def since(self, t: float) -> list[tuple[float, np.ndarray]]:
        with self.lock:
            return [o for o in self.outputs if o[0] >= t]

    def diag_since(self, t: float) -> list[dict[str, str]]:
        with self.lock:
            return [d for (td, d) in self.diagnostics if td >= t]

    def latest_diag(self) -> dict[str, str]:
        with self.lock:
            return dict(self.diagnostics[-1][1]) if self.diagnostics else {}

    def wait_for(self, pred: Callable[[], Any], timeout: float, what: str) -> Any:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            value = pred()
            if value:
                return value
            time.sleep(0.005)
        raise TimeoutError(f"timed out after {timeout} s waiting for {what}")

    def reset(self) -> str:
        if not self.reset_client.wait_for_service(timeout_sec=10.0):
            raise TimeoutError("/safety/reset not available")
        future = self.reset_client.call_async(self._Trigger.Request())
        self.wait_for(future.done, 5.0, "~/reset response")
        return future.result().message

    def estop(self, qos: str) -> float:
        t = time.monotonic()
        self.estop_pubs[qos].publish(self._Bool(data=True))
        return t

    def first_hold(self, t0: float, timeout: float = 2.0) -> float:
        """Receive time of the first output after t0 whose arm torques are zero (hold with the arm at rest)."""
        def find() -> float | None:
            for t, out in self.since(t0):
                if np.allclose(out[:7], 0.0):
                    return t
            return None
        return self.wait_for(find, timeout, "hold output")

    def active(self, timeout: float = 10.0) -> None:
        """Stream CMD until the output carries it."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            t = self.command(CMD)
            time.sleep(0.02)
            if any(np.allclose(o[1], CMD) for o in self.since(t)):
                return
        raise TimeoutError(f"output never became the command; safety diagnostics: {self.latest_diag()}")

    def close(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=2.0)
        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        self._rclpy.try_shutdown(context=self.context)


def within_limits(outputs: list[tuple[float, np.ndarray]]) -> bool:
    return all(o.shape == (8,) and np.all(np.isfinite(o)) and np.all(np.abs(o) <= LIMITS + 1e-9) for _, o in outputs)


def gaps(outputs: list[tuple[float, np.ndarray]]) -> np.ndarray:
    return np.diff([t for t, _ in outputs]) if len(outputs) > 1 else np.array([np.inf])


# ----------------------------------------------------------------------------- parts

def part_estop(obs: Observer, repeats: int = 10) -> dict[str, Any]:
    """Idle e-stop latency (publish -> first hold output received), per publisher QoS."""
    out: dict[str, Any] = {}
    for qos in ("reliable", "best_effort"):
        lat = []
        for _ in range(repeats):
            obs.reset()
            obs.active()
            t = obs.estop(qos)
            lat.append(obs.first_hold(t) - t)
            obs.wait_for(lambda: obs.latest_diag().get("mode") == "estop", 3.0, "diagnostics mode=estop")
        out[qos] = {"latency_ms_max": 1e3 * max(lat), "latency_ms_median": 1e3 * float(np.median(lat)),
                    "n": repeats, "latched": True}
    obs.reset()
    return out


def part_flood(obs: Observer, proc: subprocess.Popen, env: dict[str, str], seconds: float,
               rate: float) -> dict[str, Any]:
    """Flood /gato/effort_command from another process; e-stops every ~1.5 s during it (alternating QoS)."""
    obs.reset()
    obs.active()
    flooder = subprocess.Popen([sys.executable, "-c", FLOODER, str(rate), str(seconds), ",".join(map(str, CMD))],
                               env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert flooder.stdout.readline().strip() == "ready"
        t_idle = time.monotonic()
        time.sleep(2.0)  # discovery; also the idle baseline of the output gaps
        idle = [o for o in obs.since(t_idle)]
        rss0 = rss_mb(proc.pid)
        flooder.stdin.write("go\n")
        flooder.stdin.flush()
        t0 = time.monotonic()
        estops: list[dict[str, Any]] = []
        k = 0
        while time.monotonic() - t0 < seconds - 1.6:
            time.sleep(1.0)
            qos = ("reliable", "best_effort")[k % 2]
            t = obs.estop(qos)
            try:
                estops.append({"qos": qos, "latency_ms": 1e3 * (obs.first_hold(t) - t)})
            except TimeoutError:
                estops.append({"qos": qos, "latency_ms": None})
            time.sleep(0.1)
            obs.reset()
            k += 1
        line = flooder.communicate(timeout=seconds + 30)[0].strip().splitlines()[-1].split()
        t1 = time.monotonic()
        rss1 = rss_mb(proc.pid)
    finally:
        if flooder.poll() is None:
            flooder.kill()
            flooder.wait()
    sent, dur = int(line[1]), float(line[2])
    window = [o for o in obs.since(t0 + 0.2) if o[0] <= t0 + dur]
    g = gaps(window)
    node_gap = max((float(d.get("max_period_s", "nan")) for d in obs.diag_since(t0 + 0.3)
                    if "max_period_s" in d), default=float("nan"))
    lat = [e["latency_ms"] for e in estops if e["latency_ms"] is not None]
    return {
        "flood_rate_msg_s": sent / dur, "flood_s": dur, "messages": sent,
        "output_rate_hz": (len(window) - 1) / (window[-1][0] - window[0][0]) if len(window) > 1 else 0.0,
        "longest_gap_ms_observed": 1e3 * float(g.max()), "p99_gap_ms_observed": 1e3 * float(np.percentile(g, 99)),
        "longest_gap_ms_node": 1e3 * node_gap,
        "idle_longest_gap_ms_observed": 1e3 * float(gaps(idle).max()),
        "idle_output_rate_hz": (len(idle) - 1) / (idle[-1][0] - idle[0][0]) if len(idle) > 1 else 0.0,
        "estop_latency_ms_max": max(lat) if lat else None, "estops": estops,
        "estops_missed": sum(e["latency_ms"] is None for e in estops),
        "rss_mb_before": rss0, "rss_mb_after": rss1, "outputs_within_limits": within_limits(obs.since(t0)),
        "_t1": t1,
    }


def part_restart(obs: Observer, env: dict[str, str], proc: subprocess.Popen) -> tuple[dict[str, Any], subprocess.Popen]:
    """E-stop latched, safety SIGKILLed and restarted while commands keep coming: it must hold until ~/reset.
    Returns the results and the running safety process (on an exception the restarted one is stopped)."""
    holder = [proc]
    try:
        return _restart(obs, env, holder), holder[0]
    except BaseException:
        stop(holder[0])
        raise


def _restart(obs: Observer, env: dict[str, str], holder: list[subprocess.Popen]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    proc = holder[0]
    for label, latched_pub in (("volatile_estop_publisher", False), ("transient_local_estop_publisher", True)):
        obs.reset()
        obs.active()
        pub = None
        if latched_pub:
            pub = obs.node.create_publisher(obs._Bool, "/gato/estop", obs.latched_estop_qos)
            pub.publish(obs._Bool(data=True))
        else:
            obs.estop("reliable")
        obs.first_hold(time.monotonic() - 0.05)
        proc.kill()
        proc.wait()
        proc = holder[0] = start_safety(env)
        t_start = time.monotonic()
        obs.wait_for(lambda: obs.since(t_start), 30.0, "output of the restarted node")
        t_first = obs.since(t_start)[0][0]
        stop_at = time.monotonic() + 2.0
        while time.monotonic() < stop_at:
            obs.command(CMD)
            time.sleep(0.02)
        after = obs.since(t_start)
        held = all(np.allclose(o[:7], 0.0) for _, o in after)
        diag = obs.wait_for(lambda: obs.latest_diag() if obs.diag_since(t_start) else None, 5.0, "diagnostics")
        redelivered = None
        if latched_pub:  # the latched e-stop reaches the new node once discovery matches it (seconds under load)
            diag = obs.wait_for(lambda: (d := obs.latest_diag()).get("mode") == "estop" and d, 20.0,
                                "transient-local e-stop re-delivered")
            redelivered = time.monotonic() - t_start
        message = obs.reset()
        t_reset = time.monotonic()
        obs.active()
        out[label] = {"held_until_reset": held, "outputs_while_held": len(after), "mode": diag.get("mode"),
                      "reason": diag.get("message"), "reset_message": message,
                      "latched_estop_seen_after_restart_s": redelivered,
                      "first_output_after_start_s": t_first - t_start,
                      "active_after_reset_s": time.monotonic() - t_reset}
        if pub is not None:
            pub.publish(obs._Bool(data=False))
            obs.node.destroy_publisher(pub)
    return out


def part_implausible(obs: Observer) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for speed in (1e3, 1e9):
        obs.reset()
        obs.active()
        t = time.monotonic()
        obs.qd = np.zeros(8)
        obs.qd[0] = obs.qd[4] = speed
        obs.stream(CMD, 0.5)
        obs.qd = np.zeros(8)
        outs = obs.since(t + 0.05)
        diag = obs.wait_for(lambda: obs.latest_diag() if obs.diag_since(t + 0.3) else None, 3.0, "diagnostics")
        arm = np.array([np.abs(o[:7]).max() for _, o in outs]) if outs else np.array([np.nan])
        out[f"{speed:g}_rad_s"] = {"max_abs_arm_torque_nm": float(arm.max()), "mode": diag.get("mode"),
                                   "implausible_count": int(diag.get("implausible_joint_state", 0)),
                                   "within_limits": within_limits(outs), "reason": diag.get("message", "")[:160]}
    obs.reset()
    return out


def part_permuted(model_dir: Path) -> dict[str, Any]:
    """Agent configure with a permuted and a 7-joint gato.json (in-process lifecycle transitions)."""
    import rclpy
    from rclpy.context import Context
    from rclpy.lifecycle import TransitionCallbackReturn
    from rclpy.parameter import Parameter

    from gato_ros.nodes.agent import AgentNode

    out: dict[str, Any] = {}
    tmp = Path(tempfile.mkdtemp(prefix="gato_perm_"))
    try:
        for label in ("permuted", "seven_joints"):
            d = tmp / label
            shutil.copytree(model_dir, d)
            cfg = json.loads((d / "gato.json").read_text())
            robot = cfg["robot"]
            if label == "permuted":
                names = list(robot["joint_names"])
                names[0], names[-1] = names[-1], names[0]
                robot["joint_names"] = names
            else:
                n = len(robot["joint_names"])
                for key, value in list(robot.items()):
                    if isinstance(value, list) and len(value) == n:
                        robot[key] = value[:7]
            (d / "gato.json").write_text(json.dumps(cfg))
            ctx = Context()
            rclpy.init(context=ctx)
            node = AgentNode(context=ctx, parameter_overrides=[Parameter("model_dir", value=str(d)),
                                                               Parameter("execution_provider", value="cpu")])
            try:
                result = node.on_configure(None)
                layout = node._layout
                out[label] = {"configured": result == TransitionCallbackReturn.SUCCESS, "reason": node._reason,
                              "model_order": list(layout.model_names) if layout else None,
                              "reordered": bool(layout is not None and not layout.identity)}
            finally:
                node.destroy_node()
                rclpy.try_shutdown(context=ctx)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def agent_sigint_dead_clock(env: dict[str, str]) -> dict[str, Any]:
    """The agent with use_sim_time and no /clock publisher: SIGINT must end it (it used to hang in rcl_wait)."""
    from gato_ros.launch_runner.monitor import GraphMonitor

    proc = subprocess.Popen([sys.executable, "-m", "gato_ros.nodes.agent", "--ros-args", "-p", "use_sim_time:=true",
                             "-p", "diagnostics_period_s:=0.2"],
                            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with GraphMonitor("dead_clock_probe") as monitor:
        end = time.monotonic() + 60
        while time.monotonic() < end and not monitor.latest("agent"):
            time.sleep(0.05)
        first = monitor.latest("agent")
        time.sleep(1.0)  # diagnostics keep coming on the steady clock although /clock never ticks
        age = float(monitor.latest("agent").get("_age_s", "nan"))
    code, took = stop(proc, timeout=10.0)
    return {"diagnostics_without_clock": bool(first), "diagnostics_age_s": age, "exit_code": code, "stop_s": took,
            "killed": code is None}


def part_sigint_sim(env: dict[str, str], model_dir: Path, tmp: Path) -> dict[str, Any]:
    """`gato-ros run stacking --sim true` until the agent acts, then SIGINT to the runner: how each node ended."""
    summary = tmp / "summary.json"
    runner = subprocess.Popen([*CLI, "run", "stacking", "--sim", "true", "--model", str(model_dir), "--episodes", "0",
                               "--duration", "0", "--log-dir", str(tmp / "logs"), "--summary-json", str(summary)],
                              env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []

    def read() -> None:
        for line in runner.stdout:
            lines.append(line.rstrip())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    from gato_ros.launch_runner.monitor import GraphMonitor

    with GraphMonitor("sigint_probe") as monitor:
        end = time.monotonic() + 240
        while time.monotonic() < end and monitor.latest("agent").get("_message") != "acting" \
                and runner.poll() is None:
            time.sleep(0.2)
        acting = monitor.latest("agent").get("_message") == "acting"
        end = time.monotonic() + 10
        while time.monotonic() < end and monitor.latest("safety").get("mode") != "active" and runner.poll() is None:
            time.sleep(0.1)
        safety_mode = monitor.latest("safety").get("mode")
    time.sleep(2.0)
    t0 = time.monotonic()
    runner.send_signal(signal.SIGINT)
    try:
        runner.wait(timeout=60)
    except subprocess.TimeoutExpired:
        runner.kill()
        runner.wait()
    took = time.monotonic() - t0
    reader.join(timeout=5)
    data = json.loads(summary.read_text()) if summary.is_file() else {}
    return {"agent_was_acting": acting, "safety_mode_before": safety_mode, "runner_exit_code": runner.returncode,
            "runner_output_tail": lines[-6:],
            "runner_stop_s": took, "exits": data.get("exits", {}),
            "all_by_sigint_exit_0": bool(data.get("exits")) and all(
                v == "stopped by SIGINT (exit 0)" for v in data.get("exits", {}).values())}


# ----------------------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--flood-s", type=float, default=10.0)
    ap.add_argument("--flood-rate", type=float, default=5000.0)
    ap.add_argument("--model", type=Path, default=None,
                    help="model dir for the permuted-model and sim parts; default: a random tiny model exported now")
    ap.add_argument("--skip-sim", action="store_true", help="skip the sim:=true SIGINT part (MuJoCo + model)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    os.environ.update({k: env[k] for k in ("ROS_AUTOMATIC_DISCOVERY_RANGE",)})
    load = os.getloadavg()
    results: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "loadavg_1m_at_start": load[0],
                                           "python": platform.python_version()},
                               "targets": {"flood_output_hz_min": 95, "flood_longest_gap_ms_max": 20,
                                           "flood_estop_latency_ms_max": 20, "estop_latency_ms_max": 15,
                                           "sigint_sim_stop_s_max": 5}}
    proc = start_safety(env)
    obs = Observer()
    try:
        obs.wait_for(lambda: len(obs.outputs) > 5, 30.0, "first safety output")
        print("estop ...", flush=True)
        results["estop_idle"] = part_estop(obs)
        print(json.dumps(results["estop_idle"]), flush=True)
        print("flood ...", flush=True)
        flood = part_flood(obs, proc, env, args.flood_s, args.flood_rate)
        flood.pop("_t1")
        results["flood"] = flood
        print(json.dumps({k: v for k, v in flood.items() if k != "estops"}), flush=True)
        print("implausible ...", flush=True)
        results["implausible_velocity"] = part_implausible(obs)
        print(json.dumps(results["implausible_velocity"]), flush=True)
        print("restart ...", flush=True)
        results["restart_while_latched"], proc = part_restart(obs, env, proc)
        print(json.dumps(results["restart_while_latched"]), flush=True)
    finally:
        obs.close()
        stop(proc)
    tmp_model = None
    if args.model is None:
        tmp_model = Path(tempfile.mkdtemp(prefix="gato_bench_model_"))
        args.model = tmp_model / "tiny"
        subprocess.run([*CLI, "export", "--random", "tiny", "--out", str(args.model)], check=True, env=env,
                       stdout=subprocess.DEVNULL, timeout=600)
    if not args.skip_sim:
        print("sim:=true SIGINT ...", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            results["sigint_sim_graph"] = part_sigint_sim(env, args.model, Path(tmp))
        print(json.dumps(results["sigint_sim_graph"]), flush=True)
    print("agent SIGINT with a dead /clock ...", flush=True)
    results["agent_sigint_dead_clock"] = agent_sigint_dead_clock(env)
    print(json.dumps(results["agent_sigint_dead_clock"]), flush=True)
    print("permuted model ...", flush=True)  # in-process rclpy contexts: last
    results["permuted_model"] = part_permuted(args.model)
    print(json.dumps(results["permuted_model"]), flush=True)
    if tmp_model is not None:
        shutil.rmtree(tmp_model, ignore_errors=True)
    results["machine"]["loadavg_1m_at_end"] = os.getloadavg()[0]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
