"""safety node: the only publisher of /effort_controller/commands; a thin rclpy adapter over SafetyFilter.

Timers and timeouts run on the steady clock, never on /clock: a paused simulator or a dead clock publisher
must not stop the safety node from publishing hold torques.

Threads (docs/SAFETY.md): the output loop runs in a thread of its own, paced on the steady clock, and spins the
e-stop subscriptions (an internal node `<name>_estop`, every QoS) between ticks, so neither the output nor an
e-stop ever waits behind command or joint-state callbacks; an e-stop publishes its hold at once. Commands are
taken by the output thread itself at each tick (an internal node `<name>_intake` that no executor spins: at most
INTAKE_PER_TICK queued messages, oldest first, so the newest wins), so a command flood costs DDS a queue and the
node a bounded, fixed amount of work per tick. After a (re)start the node holds until `~/reset`.

Wake on command (`wake_on_command`, gato_ros.safety.pacing): while armed, the output thread's wait also watches the
intake subscription (`IntakeWake`, a Waitable that takes nothing), so a command's arrival ticks at once instead of at
the next tick; the tick then takes the commands as above. A woken tick disarms the watch until the next regular tick,
which comes one period later: at most one woken tick per period, at most twice publish_rate_hz under a flood.

Shadow mode (`shadow`, gato_ros.safety.shadow): each command goes to the live filter only when its publisher (DDS
publisher GID, looked up in the graph) announced itself as an operator on /gato/commander; every other command (the
agent's, an unannounced one) goes to a second filter whose output is published on /safety/shadow_output, never to the
arm. An exception in the shadow path faults the shadow filter alone.

Latency: a command stamped with its image's stamp (gato_ros.interfaces.effort_command) that the filter passes is
measured when the first output carrying it is published: system clock now - stamp, published after that output on
/safety/output_latency (sensor_msgs/TimeReference) and summarised in the diagnostics (`image_to_output_*`).
"""

from __future__ import annotations

import sys
import threading
import time
import traceback
from typing import Any

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.clock import Clock, ClockType
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.subscription import Subscription
from rclpy.waitable import NumberOfEntities, Waitable
from sensor_msgs.msg import JointState, TimeReference
from std_msgs.msg import Bool, Float64MultiArray, String
from std_srvs.srv import Trigger

from gato_ros.interfaces import (
    ANY_PUBLISHER_QOS, COMMAND_INTAKE_QOS, COMMAND_STAMP_SOURCE, COMMAND_TOPIC, COMMANDER_QOS, COMMANDER_TOPIC,
    DIAGNOSTICS_QOS, DIAGNOSTICS_TOPIC, EFFORT_OUTPUT_TOPIC, ESTOP_QOS_FAMILIES, ESTOP_TOPIC, INTAKE_PER_TICK,
    JOINT_STATES_TOPIC, LATENCY_QOS, OUTPUT_LATENCY_TOPIC, OUTPUT_QOS, SHADOW_OUTPUT_QOS, SHADOW_OUTPUT_TOPIC,
    command_stamp_ns,
)
from gato_ros.latency import StampLatency
from gato_ros.nodes.common import (
    run_node,
    ERROR,
    OK,
    WARN,
    declare_dataclass_parameters,
    diagnostic_array,
    diagnostic_status,
)
from gato_ros.recorder.commander import gid_key, publisher_nodes, read_announcement
from gato_ros.safety import Mode, SafetyConfig, SafetyFilters
from gato_ros.safety.joints import JointStateError, JointStateMerger, JointStateStampError
from gato_ros.safety.pacing import TickPacer
from gato_ros.safety.shadow import OPERATOR_SOURCES, CommandRouter

#: The GIL switch interval in the safety process: a busy intake thread hands the GIL over within 0.5 ms.
SWITCH_INTERVAL_S = 0.0005


def load_robot(config: SafetyConfig) -> Any:
    """The RobotModel from `robot_description` text, else `urdf_path`, else the package URDF."""
    from gato_ros.robot import RobotModel, default_urdf_path

    if config.robot_description.strip():
        return RobotModel.from_urdf(config.robot_description, config.joint_names)
    return RobotModel.from_file(config.urdf_path or default_urdf_path(), config.joint_names)


class IntakeWake(Waitable[None]):
    """Wakes the output thread's wait when the intake subscription has a message, without taking it (the tick takes
    the queue, bounded). Watches only while `armed`: a disarmed wake adds nothing to the wait set, so a flood
    arriving between the regular ticks costs no wake-ups."""

    def __init__(self, node: Node, subscription: Subscription) -> None:
        super().__init__(node.default_callback_group)
        self._sub = subscription
        self._index: int | None = None
        self.armed = False  # set by the output thread (the only thread that spins this waitable)
        self.fired = False  # a command arrived while armed; the output thread reads and clears it

    def __enter__(self) -> None:
        self._sub.handle.__enter__()

    def __exit__(self, *exc: object) -> None:
        self._sub.handle.__exit__(*exc)

    def get_num_entities(self) -> NumberOfEntities:
        return NumberOfEntities(num_subs=1 if self.armed else 0)

    def add_to_wait_set(self, wait_set: Any) -> None:
        self._index = wait_set.add_subscription(self._sub.handle) if self.armed else None

    def is_ready(self, wait_set: Any) -> bool:
        return self._index is not None and wait_set.is_ready("subscription", self._index)

    def take_data(self) -> None:
        return None  # the message stays queued for the tick

    async def execute(self, taken_data: None) -> None:
        self.fired = True
        self.armed = False  # until the output thread re-arms it


class SafetyNode(Node):
    """Feeds commands, joint states and e-stops into SafetyFilters and publishes its output at publish_rate_hz (and,
    with wake_on_command, when a command arrives)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("safety", **kwargs)
        self.config = declare_dataclass_parameters(self, SafetyConfig)
        self.filter = SafetyFilters(load_robot(self.config), self.config)
        self.router = CommandRouter()  # shadow mode: which commands are an operator's
        self.merger = JointStateMerger(self.config.joint_names)
        self.n = len(self.config.joint_names)
        self._unknown_names: set[str] = set()
        self._ticks = 0
        self._ticks_at_diag = 0
        self._diag_t = time.monotonic()
        self._max_gap = 0.0
        self._last_tick: float | None = None
        self._last_output = np.zeros(self.n)
        self._lock = threading.Lock()  # the filter is fed from the executor thread and read by the output thread
        self._wake = threading.Event()  # an e-stop: publish now, not at the next tick
        self._running = threading.Event()
        self._estop_sources: set[str] = set()
        self._command_stamp: int | None = None  # stamp of the newest passed command not yet in an output
        self._latency = StampLatency()
        steady = Clock(clock_type=ClockType.STEADY_TIME)
        self.pub = self.create_publisher(Float64MultiArray, EFFORT_OUTPUT_TOPIC, OUTPUT_QOS.profile())
        self.diag_pub = self.create_publisher(DiagnosticArray, DIAGNOSTICS_TOPIC, DIAGNOSTICS_QOS.profile())
        self.latency_pub = self.create_publisher(TimeReference, OUTPUT_LATENCY_TOPIC, LATENCY_QOS.profile())
        self.shadow_pub = None
        if self.config.shadow:
            self.shadow_pub = self.create_publisher(Float64MultiArray, SHADOW_OUTPUT_TOPIC,
                                                    SHADOW_OUTPUT_QOS.profile())
            self.create_subscription(String, COMMANDER_TOPIC, self._on_commander, COMMANDER_QOS.profile())
        self.create_subscription(JointState, JOINT_STATES_TOPIC, self._on_joint_state, ANY_PUBLISHER_QOS.profile())
        self.create_service(Trigger, "~/reset", self._on_reset)
        self.create_timer(self.config.diagnostics_period_s, self._diagnose, clock=steady)
        # the e-stop lives on an internal node spun by the output thread: it never waits behind commands
        self.estop_node = Node(f"{self.get_name()}_estop", namespace=self.get_namespace(), context=self.context,
                               use_global_arguments=False, start_parameter_services=False, enable_rosout=False)
        estop_topic = self.resolve_topic_name(ESTOP_TOPIC)
        # commands: taken by the output thread at each tick, never by an executor (see _take_commands)
        self.intake_node = Node(f"{self.get_name()}_intake", namespace=self.get_namespace(), context=self.context,
                                use_global_arguments=False, start_parameter_services=False, enable_rosout=False)
        self._cmd_sub = self.intake_node.create_subscription(
            Float64MultiArray, self.resolve_topic_name(COMMAND_TOPIC), self._on_command,
            COMMAND_INTAKE_QOS.profile())
        for i, qos in enumerate(ESTOP_QOS_FAMILIES):
            self.estop_node.create_subscription(Bool, estop_topic, lambda msg, i=i: self._on_estop(msg, i),
                                                qos.profile())
        self._intake_wake = IntakeWake(self.estop_node, self._cmd_sub)  # spun with the e-stop, by the output thread
        self.estop_node.add_waitable(self._intake_wake)
        self._pacer = TickPacer(1.0 / self.config.publish_rate_hz, self.config.wake_on_command, time.monotonic())
        self._estop_executor = SingleThreadedExecutor(context=self.context)
        self._estop_executor.add_node(self.estop_node)
        self._output_thread = threading.Thread(target=self._output_loop, name="safety_output", daemon=True)
        self._running.set()
        self._output_thread.start()
        self.get_logger().info(
            f"safety: publishing {EFFORT_OUTPUT_TOPIC} at {self.config.publish_rate_hz} Hz for "
            f"{list(self.config.joint_names)}"
            + ("; a command publishes at once (wake_on_command)" if self.config.wake_on_command else "")
            + "; "
            f"e-stop on {estop_topic} (any QoS)"
            + ("; holding until ~/reset (safe start)" if self.config.safe_start else "")
            + (f"; SHADOW MODE: only announced operators ({COMMANDER_TOPIC}) reach the arm, other commands go to "
               f"{SHADOW_OUTPUT_TOPIC}" if self.config.shadow else "")
        )

    # ------------------------------------------------------------------ callbacks

    def _guard(self, what: str, fn: Any, *args: Any) -> Any:
        """Run a callback body under the filter lock; any exception becomes a fault (hold), never a dead node."""
        try:
            with self._lock:
                return fn(*args)
        except Exception as exc:  # noqa: BLE001 - by design: every internal error -> hold
            with self._lock:
                self.filter.fault(f"{what}: {type(exc).__name__}: {exc}", time.monotonic())
            self.get_logger().error(f"fault in {what}, holding: {traceback.format_exc(limit=3)}")
            return None

    def _on_command(self, msg: Float64MultiArray, info: dict | None = None) -> None:
        operator, role = True, ""
        if self.config.shadow:
            gid = gid_key((info or {}).get("publisher_gid"))
            if self.router.needs_lookup(gid, time.monotonic()):
                self._lookup_publishers()
            operator, role = self.router.is_operator(gid), self.router.role(gid)
        if operator:
            if self._guard("command", self.filter.command, msg.data, time.monotonic(), True, role):
                self._command_stamp = command_stamp_ns(msg)  # measured at the output that first carries it
            return
        try:  # the shadow path: a failure here faults the shadow filter alone
            with self._lock:
                self.filter.command(msg.data, time.monotonic(), False, role)
        except Exception as exc:  # noqa: BLE001 - by design: every internal error -> hold (of the shadow filter)
            with self._lock:
                self.filter.shadow_fault(f"shadow command: {type(exc).__name__}: {exc}", time.monotonic())

    def _lookup_publishers(self) -> None:
        """The node behind every current publisher of the command topic (shadow mode's routing)."""
        infos = self.intake_node.get_publishers_info_by_topic(self.resolve_topic_name(COMMAND_TOPIC))
        with self._lock:
            self.router.publishers(publisher_nodes(infos))

    def _on_commander(self, msg: String) -> None:
        who = read_announcement(msg.data, self.get_logger().warning)
        if who is None:
            return
        with self._lock:
            self.router.announce(who.node, who.source)
        self.get_logger().info(f"shadow mode: {who.node} announced as {who.source}: its commands go to "
                               f"{'the arm' if who.source in OPERATOR_SOURCES else SHADOW_OUTPUT_TOPIC}")

    def _on_joint_state(self, msg: JointState) -> None:
        self._guard("joint_state", self._joint_state, msg)

    def _joint_state(self, msg: JointState) -> None:
        t = time.monotonic()
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        try:
            result = self.merger.update(msg.name, msg.position, msg.velocity, t, stamp)
        except JointStateStampError as exc:
            self.filter.implausible(str(exc), t)
            return
        except JointStateError as exc:
            self.filter.note("bad_joint_state", str(exc))
            return
        if result.unknown:
            new = set(result.unknown) - self._unknown_names
            if new:  # report each unknown name once, count every message carrying some
                self._unknown_names |= new
                self.get_logger().warning(f"/joint_states has joints not in joint_names (ignored): {sorted(new)}")
            self.filter.note("unknown_joint_names", f"ignored {list(result.unknown)}")
        if result.complete:
            self.filter.joint_state(self.merger.q, self.merger.qd, self.merger.oldest())

    def _on_estop(self, msg: Bool, source: int = 0) -> None:
        if msg.data:
            with self._lock:
                was = self.filter.estopped
                self.filter.estop(f"e-stop on {ESTOP_TOPIC}")
            self._wake.set()
            self._estop_sources.add(("best_effort", "reliable", "transient_local")[source])
            if not was:
                self.get_logger().error("E-STOP latched; call ~/reset to clear")

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        with self._lock:
            response.message = self.filter.reset()
        response.success = True
        self.get_logger().info(f"reset: {response.message}")
        return response

    # ------------------------------------------------------------------ output thread

    def _output_loop(self) -> None:
        """Tick at publish_rate_hz on the steady clock; between ticks spin the e-stop node (an e-stop ticks now) and,
        with wake_on_command, watch the intake (a command ticks now, at most once per period: TickPacer)."""
        pacer, wake = self._pacer, self._intake_wake
        while self._running.is_set():
            fired, wake.fired = wake.fired, False
            if pacer.tick(time.monotonic(), command=fired, estop=self._wake.is_set()) is not None:
                self._wake.clear()
                self._tick()
            wake.armed = pacer.armed
            try:
                self._estop_executor.spin_once(timeout_sec=pacer.wait_s(time.monotonic()))
            except Exception:  # noqa: BLE001 - context shutting down; the loop ends with _running
                if not self._running.is_set() or not self.context.ok():
                    return
                time.sleep(0.001)

    def stop_output(self) -> None:
        """Stop the output thread (shutdown: the final hold is then published from the caller)."""
        self._running.clear()
        if self._output_thread.is_alive() and threading.current_thread() is not self._output_thread:
            self._output_thread.join(timeout=1.0)

    def destroy_node(self) -> None:
        self.stop_output()
        try:
            self._estop_executor.shutdown(timeout_sec=0.5)
            self.estop_node.destroy_node()
            self.intake_node.destroy_node()
        finally:
            super().destroy_node()

    def _take_commands(self) -> None:
        """Feed the queued commands (at most INTAKE_PER_TICK, oldest first) to the filter; the newest wins."""
        sub = self._cmd_sub
        for _ in range(INTAKE_PER_TICK):
            try:
                with sub.handle:
                    taken = sub.handle.take_message(sub.msg_type, sub.raw)
            except Exception as exc:  # noqa: BLE001 - an intake failure holds (fault), it never stops the output
                with self._lock:
                    self.filter.fault(f"command intake: {type(exc).__name__}: {exc}", time.monotonic())
                return
            if taken is None:
                return
            self._on_command(taken[0], taken[1])

    def _tick(self) -> None:
        """Publish once per period whatever happens: the filter's output, else the last safe vector held."""
        self._take_commands()
        now = time.monotonic()
        if self._last_tick is not None:
            self._max_gap = max(self._max_gap, now - self._last_tick)
        self._last_tick = now
        result = self._guard("output", self.filter.output, now)
        if result is not None:
            efforts = result[0]
        else:  # the filter itself failed: zero arm torques (the arm's own gravity compensation holds it)
            efforts = np.where(self.filter.limits.arm, 0.0, self._last_output)
        efforts = np.where(np.isfinite(efforts), efforts, 0.0)
        self._last_output = efforts
        self.pub.publish(Float64MultiArray(data=[float(x) for x in efforts]))
        self._ticks += 1
        stamp, self._command_stamp = self._command_stamp, None
        if stamp is not None and result is not None and result[1] is Mode.ACTIVE:
            self._publish_latency(stamp)
        if self.shadow_pub is not None:
            self._publish_shadow(now)

    def _publish_shadow(self, now: float) -> None:
        """Shadow mode: the shadow filter's output (a failure faults the shadow filter; the arm's output went out)."""
        try:
            with self._lock:
                efforts, _, _ = self.filter.shadow_output(now)
            efforts = np.where(np.isfinite(efforts), efforts, 0.0)
        except Exception as exc:  # noqa: BLE001 - by design: the shadow path never stops the output loop
            with self._lock:
                self.filter.shadow_fault(f"shadow output: {type(exc).__name__}: {exc}", now)
            return
        self.shadow_pub.publish(Float64MultiArray(data=[float(x) for x in efforts]))

    def _publish_latency(self, stamp: int) -> None:
        """After the output that first carried a stamped command: its image -> output latency (system clock)."""
        now = time.time_ns()
        if self._latency.record(now, stamp) is None:
            return  # a stamp on another clock (sim time): counted, not published
        msg = TimeReference(source=COMMAND_STAMP_SOURCE)
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(now, 1_000_000_000)
        msg.time_ref.sec, msg.time_ref.nanosec = divmod(stamp, 1_000_000_000)
        self.latency_pub.publish(msg)

    def _diagnose(self) -> None:
        now = time.monotonic()
        rate = (self._ticks - self._ticks_at_diag) / max(now - self._diag_t, 1e-9)
        self._ticks_at_diag, self._diag_t = self._ticks, now
        with self._lock:
            status = self.filter.status()
            mode = self.filter.mode
        level = OK if mode is Mode.ACTIVE else (ERROR if mode in (Mode.ESTOP, Mode.FAULT) else WARN)
        values = {
            **status,
            "publish_rate_hz": rate,
            "max_period_s": self._max_gap,
            "missing_joints": list(self.merger.missing()),
            "stale_joints": list(self.merger.stale(now, self.config.state_timeout_s)),
            "unknown_joint_names": sorted(self._unknown_names),
            "last_output": [float(x) for x in self._last_output],
            "late_ticks": self._pacer.late_ticks,
            "wake_on_command": self.config.wake_on_command,
            "woken_ticks": self._pacer.woken_ticks,
            "estop_qos_seen": sorted(self._estop_sources),
            **{f"image_to_output_{k}": v for k, v in self._latency.summary().items()},
        }
        self._max_gap = 0.0
        message = f"{mode.value}: {status['reason']}"
        if self.config.shadow:
            message = f"SHADOW MODE (agent -> {SHADOW_OUTPUT_TOPIC}, {status['shadow_mode']}); arm: {message}"
        self.diag_pub.publish(diagnostic_array(self, [diagnostic_status(self, "safety", level, message, values)]))


    def publish_final_hold(self) -> None:
        """On shutdown: leave zero arm torques (the gripper's last command) in the controller, not the last effort.

        ros2_control's effort controller keeps applying its last command when its publisher goes away.
        """
        final = np.where(self.filter.limits.arm, 0.0, self._last_output)
        final = np.where(np.isfinite(final), final, 0.0)
        for _ in range(3):
            self.pub.publish(Float64MultiArray(data=[float(x) for x in final]))
        self.get_logger().info("safety: shutting down; published zero arm torques")


def _final_hold(node: "SafetyNode") -> None:
    node.stop_output()
    if rclpy.ok():
        node.publish_final_hold()
        time.sleep(0.05)  # let DDS deliver it before the participant goes away


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `safety` executable; SIGINT/SIGTERM leave zero arm torques behind."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)  # the output thread must get the GIL quickly under a command flood
    return run_node(SafetyNode, argv, on_exit=_final_hold)


if __name__ == "__main__":
    sys.exit(main())
