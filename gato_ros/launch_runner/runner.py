"""Run the stacking graph without the ros2 CLI: one process per node, same parameter files as the launch file.

The runner starts the nodes of `graph.STACKING`, configures and activates the lifecycle agent through its
lifecycle_msgs services, drives sim episodes (sim `~/reset`, then agent `~/reset`), reads /diagnostics for
success, tick latency and safety interventions, forwards Ctrl-C, and stops every child (SIGINT -> SIGTERM -> SIGKILL).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from gato_ros.launch_runner.graph import STACKING, GraphSpec, NodeSpec, as_bool, node_parameters, param_files
from gato_ros.launch_runner.errors import RunnerError
from gato_ros.launch_runner.processes import ProcessSet


#: A node's diagnostics older than this are reported as stale in the summary.
STALE_AFTER_S = 3.0


@dataclass(frozen=True)
class RunOptions:
    """How long to run and how to stop. `episodes`=0 runs until Ctrl-C (or `duration_s` if > 0, in total)."""

    episodes: int = 1
    duration_s: float = 30.0          # per episode (sim); total when not in sim
    lifecycle_timeout_s: float = 60.0  # model loading can take a while
    stop_timeout_s: float = 10.0       # SIGINT grace before SIGTERM
    kill_timeout_s: float = 3.0        # SIGTERM grace before SIGKILL
    config_dir: Path | None = None
    log_dir: Path | None = None
    status: bool = False               # a status line refreshed in place (rich; only on a terminal)


@dataclass
class EpisodeResult:
    index: int
    success: bool
    duration_s: float


@dataclass
class Summary:
    nodes: dict[str, int] = field(default_factory=dict)            # name -> pid
    episodes: list[EpisodeResult] = field(default_factory=list)
    agent: dict[str, str] = field(default_factory=dict)             # newest agent diagnostics values
    safety: dict[str, str] = field(default_factory=dict)            # newest safety diagnostics values
    safety_interventions: int | None = None
    exits: dict[str, str] = field(default_factory=dict)             # how each node ended
    early_exits: dict[str, int] = field(default_factory=dict)       # nodes that died while running
    interrupted: bool = False

    @property
    def successes(self) -> int:
        return sum(e.success for e in self.episodes)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["successes"] = self.successes
        return out

    def _agent_state(self) -> str:
        """The agent's last reported state, marked when it is not current (the agent died or went quiet)."""
        message = self.agent.get("_message", "?")
        if "agent" in self.early_exits:
            return f"exited (code {self.early_exits['agent']}; last report: {message})"
        age = self.agent.get("_age_s")
        try:
            if age is not None and float(age) > STALE_AFTER_S:
                return f"stale (no report for {float(age):.1f} s; last: {message})"
        except ValueError:
            pass
        return message

    def text(self) -> str:
        lines = ["== gato-ros run stacking: summary =="]
        if self.episodes:
            lines.append(f"episodes: {len(self.episodes)}, success: {self.successes}/{len(self.episodes)} "
                         + " ".join(f"[{e.index}: {'ok' if e.success else 'fail'} {e.duration_s:.1f}s]"
                                    for e in self.episodes))
        a = self.agent
        if a:
            lines.append(f"agent step latency: p50 {a.get('tick_p50_ms', '?')} ms, p99 {a.get('tick_p99_ms', '?')} ms, "
                         f"deadline misses {a.get('tick_deadline_misses', '?')}/{a.get('tick_ticks', '?')}, "
                         f"commands {a.get('published', '?')}, provider {a.get('provider', '?')}, "
                         f"state: {self._agent_state()}")
        else:
            lines.append("agent step latency: no agent diagnostics received")
        interventions = self.safety_interventions if self.safety_interventions is not None else "?"
        lines.append(f"safety interventions: {interventions}"
                     + (f" ({', '.join(f'{k}={v}' for k, v in self.safety.items() if k != '_message')})"
                        if self.safety else ""))
        for name, code in self.early_exits.items():
            lines.append(f"node {name} exited early with code {code}")
        return "\n".join(lines)


def interventions_from(values: Mapping[str, str]) -> int | None:
    """Total safety interventions from the safety node's diagnostics: `interventions`, else the sum of its counts."""
    if "interventions" in values:
        try:
            return int(values["interventions"])
        except ValueError:
            return None
    total, found = 0, False
    for key, value in values.items():
        if key.startswith("_") or key in ("mode", "last_reason", "reason", "armed"):
            continue
        try:
            total += int(value)
            found = True
        except ValueError:
            continue
    return total if found else None


def write_overrides(spec: NodeSpec, values: Mapping[str, str], folder: Path) -> Path | None:
    """A parameter file with what the graph sets from launch arguments (typed, like launch_ros's dict params)."""
    params = node_parameters(spec, values)
    if not params:
        return None
    path = folder / f"{spec.name}_overrides.yaml"
    path.write_text(yaml.safe_dump({spec.name: {"ros__parameters": params}}))
    return path


def node_command(spec: NodeSpec, config_dir: Path, override_file: Path | None,
                 python: str = sys.executable, files: tuple[str, ...] | None = None) -> list[str]:
    """The command line that starts `spec` like launch_ros does: node name, parameter files (`files`, default the
    node's own; graph.param_files adds the robot's), overrides."""
    cmd = [python, "-m", spec.module, "--ros-args", "-r", f"__node:={spec.name}"]
    for name in spec.param_files if files is None else files:
        path = config_dir / name
        if not path.is_file():
            raise RunnerError(f"parameter file {path} for node {spec.name} does not exist")
        cmd += ["--params-file", str(path)]
    if override_file is not None:
        cmd += ["--params-file", str(override_file)]
    return cmd


class Runner:
    """Start, supervise and stop one run of the graph."""

    def __init__(self, values: Mapping[str, str], options: RunOptions = RunOptions(),
                 graph: GraphSpec = STACKING) -> None:
        self.graph = graph
        self.values = graph.resolve(values)
        self.options = options
        self.nodes = graph.check(self.values)  # a bad argument (unknown robot:=, shadow:=yes) stops it before any start
        self.stop_event = threading.Event()
        self.summary = Summary()
        if options.config_dir is not None:
            self.config_dir = Path(options.config_dir)
        else:
            from gato_ros import paths

            self.config_dir = paths.config_dir()

    # ------------------------------------------------------------------ public
    def request_stop(self, *_: Any) -> None:
        """Signal handler / external stop: end the run and shut the graph down cleanly."""
        self.summary.interrupted = True
        self.stop_event.set()

    def run(self, on_started=None) -> Summary:
        """Run the graph until the episodes are done, the time is up or a stop is requested; always clean up."""
        tmp = Path(tempfile.mkdtemp(prefix="gato_ros_run_"))
        commands = {s.name: node_command(s, self.config_dir, write_overrides(s, self.values, tmp),
                                         files=param_files(s, self.values)) for s in self.nodes}
        procs = ProcessSet(self.options.log_dir)
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        try:
            for spec in self.nodes:  # children before rclpy: no DDS threads exist yet when forking
                self.summary.nodes[spec.name] = procs.start(spec.name, commands[spec.name], env).pid
            from gato_ros.launch_runner.monitor import GraphMonitor
            from gato_ros.liveview.status import GraphStatus, StatusLine

            with GraphMonitor() as monitor, StatusLine(self.options.status) as line:
                self._monitor, self._procs = monitor, procs
                self._status = (line, GraphStatus(monitor.latest, time.monotonic()))
                for spec in self.nodes:
                    if spec.lifecycle:
                        monitor.bring_up(spec.name, self.options.lifecycle_timeout_s, self.stop_event,
                                         lambda: self._check_children(fatal=True))
                self._enable_safety(monitor)
                if on_started is not None:
                    on_started(self)
                self._drive(monitor)
                self.summary.agent = monitor.latest("agent")
                self.summary.safety = monitor.latest("safety")
                self.summary.safety_interventions = interventions_from(self.summary.safety)
        finally:
            self.summary.exits = procs.stop_all(self.options.stop_timeout_s, self.options.kill_timeout_s)
            for f in tmp.iterdir():
                f.unlink()
            tmp.rmdir()
        return self.summary

    # ------------------------------------------------------------------ internals
    def _enable_safety(self, monitor) -> None:
        """The safety node starts holding (safe start). In sim the runner enables it once, at start (never again:
        a later e-stop stays latched); on a robot the operator calls /safety/reset."""
        if not any(s.name == "safety" for s in self.nodes):
            return
        if as_bool(self.values["sim"], "sim"):
            ok, message = monitor.call_trigger("safety/reset", timeout_s=10.0)
            print(f"[runner] safety: {'enabled' if ok else 'NOT enabled'} ({message})", flush=True)
        else:
            print("[runner] safety holds until the operator enables it: "
                  "ros2 service call /safety/reset std_srvs/srv/Trigger", flush=True)

    def _check_children(self, fatal: bool = False) -> None:
        for child in self._procs.exited():
            if child.name not in self.summary.early_exits:
                self.summary.early_exits[child.name] = child.proc.returncode
                print(f"[runner] node {child.name} (pid {child.pid}) exited with code {child.proc.returncode}",
                      file=sys.stderr, flush=True)
                if fatal:
                    raise RunnerError(f"node {child.name} exited with code {child.proc.returncode} during start-up")

    def _wait(self, seconds: float, until=None) -> bool:
        """Sleep up to `seconds` (forever if <= 0) watching children; True when `until()` became true."""
        end = time.monotonic() + seconds if seconds > 0 else float("inf")
        while time.monotonic() < end and not self.stop_event.is_set():
            self._check_children()
            self._show_status()
            if until is not None and until():
                return True
            self.stop_event.wait(0.1)
        return False

    def _show_status(self) -> None:
        """Redraw the status line (a no-op unless options.status)."""
        line, status = getattr(self, "_status", (None, None))
        if line is not None and line.enabled:
            line.update(status.poll(time.monotonic()))

    def _drive(self, monitor) -> None:
        opts = self.options
        in_sim = as_bool(self.values["sim"], "sim")
        if not in_sim or opts.episodes <= 0:
            self._wait(opts.duration_s * max(1, opts.episodes) if opts.duration_s > 0 else 0)
            return
        for i in range(opts.episodes):
            if self.stop_event.is_set():
                break
            self._episode(monitor, i)

    def _episode(self, monitor, index: int) -> EpisodeResult:
        """One sim episode: reset sim and agent, run until success or `duration_s`, record the result."""
        start = time.monotonic()
        monitor.call_trigger("sim/reset", timeout_s=10.0)
        monitor.call_trigger("agent/reset", timeout_s=5.0)
        since = time.monotonic()
        ok = self._wait(self.options.duration_s, lambda: self._episode_tick(monitor, since))
        result = EpisodeResult(index, ok, time.monotonic() - start)
        self.summary.episodes.append(result)
        print(f"[runner] episode {index}: {'success' if ok else 'no success'} after {result.duration_s:.1f} s",
              flush=True)
        return result

    def _episode_tick(self, monitor, since: float) -> bool:
        """Polled while an episode runs; True (the sim reported success) ends it."""
        return monitor.sim_success_since(since)


def run_stacking(values: Mapping[str, str], options: RunOptions, summary_json: Path | None = None) -> int:
    """CLI body: run with Ctrl-C/SIGTERM forwarded, print the summary, return the exit code."""
    from gato_ros.launch_runner.graph import GraphArgumentError

    try:
        runner = Runner(values, options)
    except GraphArgumentError as exc:
        print(f"gato-ros run: {exc}", file=sys.stderr)
        return 2
    old = {s: signal.signal(s, runner.request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        summary = runner.run()
    except RunnerError as exc:
        print(f"gato-ros run: {exc}", file=sys.stderr)
        summary = runner.summary
        code = 1
    else:
        code = 0
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    print(summary.text(), flush=True)
    if summary_json is not None:
        Path(summary_json).write_text(json.dumps(summary.to_json(), indent=2))
    return code
