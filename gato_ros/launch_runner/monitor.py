"""The runner's own ROS node: lifecycle transitions, Trigger calls, and the newest /diagnostics of each node."""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.signals import SignalHandlerOptions
from std_srvs.srv import Trigger

from gato_ros.launch_runner.errors import RunnerError
from gato_ros.interfaces import (
    DIAGNOSTICS_QOS, DIAGNOSTICS_TOPIC, LATENCY_QOS, OUTPUT_LATENCY_TOPIC, TRUE_WORDS, stamp_ns,
)
from gato_ros.nodes.common import diagnostic_values, level_int

GOAL_STATES = {Transition.TRANSITION_CONFIGURE: "inactive", Transition.TRANSITION_ACTIVATE: "active"}


class GraphMonitor:
    """Context manager: an rclpy context of its own (no signal handlers: the runner owns Ctrl-C) spun in a thread."""

    def __init__(self, name: str = "gato_runner") -> None:
        self.name = name
        self._lock = threading.Lock()
        self._status: dict[str, tuple[float, dict[str, str]]] = {}  # status name -> (monotonic time, values)

    def __enter__(self) -> "GraphMonitor":
        self.context = Context()
        rclpy.init(context=self.context, signal_handler_options=SignalHandlerOptions.NO)
        self.node = rclpy.create_node(self.name, context=self.context)
        self.node.create_subscription(DiagnosticArray, DIAGNOSTICS_TOPIC, self._on_diagnostics,
                                      DIAGNOSTICS_QOS.profile())
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)
        self._thread.join(timeout=2.0)

    def _spin(self) -> None:
        try:
            self.executor.spin()
        except Exception:  # context shut down under us during exit
            pass

    # ------------------------------------------------------------------ diagnostics
    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        now = time.monotonic()
        with self._lock:
            for status in msg.status:
                values = diagnostic_values(status)
                values["_message"] = status.message
                values["_level"] = str(level_int(status))
                self._status[status.name] = (now, values)

    def latest(self, node_name: str) -> dict[str, str]:
        """Merged newest values of the statuses named `<node_name>: ...` (empty when none arrived), with `_age_s`:
        seconds since the newest of them arrived (a dead or frozen node's values grow old, not current)."""
        merged: dict[str, str] = {}
        newest = None
        with self._lock:
            for name, (t, values) in sorted(self._status.items()):
                if name.split(":", 1)[0].strip() == node_name:
                    merged.update(values)
                    newest = t if newest is None else max(newest, t)
        if newest is not None:
            merged["_age_s"] = f"{time.monotonic() - newest:.3f}"
        return merged

    def sim_success_since(self, since: float, node_name: str = "sim") -> bool:
        """True when a status of `node_name` received after `since` says success."""
        with self._lock:
            for name, (t, values) in self._status.items():
                if t >= since and name.split(":", 1)[0].strip() == node_name \
                        and values.get("success", "").strip().lower() in TRUE_WORDS:
                    return True
        return False

    # ------------------------------------------------------------------ latency
    def record_output_latency(self) -> list[tuple[int, int]]:
        """Subscribe to the safety node's latency samples; the returned list fills with (output time ns, image
        stamp ns) pairs as they arrive (append is atomic: read it with list(...))."""
        from sensor_msgs.msg import TimeReference

        samples: list[tuple[int, int]] = []
        self.node.create_subscription(
            TimeReference, OUTPUT_LATENCY_TOPIC,
            lambda m: samples.append((stamp_ns(m.header.stamp), stamp_ns(m.time_ref))), LATENCY_QOS.profile())
        return samples

    # ------------------------------------------------------------------ services
    def _call(self, srv_type: Any, service: str, request: Any, timeout_s: float) -> Any:
        client = self.node.create_client(srv_type, service)
        try:
            if not client.wait_for_service(timeout_sec=timeout_s):
                return None
            future = client.call_async(request)
            done = threading.Event()
            future.add_done_callback(lambda _: done.set())
            done.wait(timeout_s)
            return future.result() if future.done() else None
        finally:
            self.node.destroy_client(client)

    def call_trigger(self, service: str, timeout_s: float = 5.0) -> tuple[bool, str]:
        """Call a std_srvs/Trigger service (e.g. 'sim/reset'); (False, why) when absent or refused."""
        response = self._call(Trigger, "/" + service.lstrip("/"), Trigger.Request(), timeout_s)
        if response is None:
            return False, f"/{service.lstrip('/')} did not answer within {timeout_s} s"
        return bool(response.success), response.message

    def change_state(self, node_name: str, transition_id: int, timeout_s: float) -> bool:
        """Request a transition; True once it succeeded.

        A service response can be lost when the server has not yet discovered a just-created client's reply
        reader, so while waiting the node's state is also polled: reaching the transition's goal state counts.
        """
        goal = GOAL_STATES.get(transition_id)
        request = ChangeState.Request()
        request.transition.id = transition_id
        client = self.node.create_client(ChangeState, f"/{node_name}/change_state")
        state_client = self.node.create_client(GetState, f"/{node_name}/get_state")
        try:
            end = time.monotonic() + timeout_s
            if not client.wait_for_service(timeout_sec=timeout_s):
                return False
            future = client.call_async(request)
            while time.monotonic() < end:
                if future.done():
                    return bool(future.result().success)
                if goal is not None and state_client.service_is_ready():
                    probe = state_client.call_async(GetState.Request())
                    probe_end = min(end, time.monotonic() + 1.0)
                    while not probe.done() and time.monotonic() < probe_end and not future.done():
                        time.sleep(0.05)
                    if probe.done() and probe.result().current_state.label == goal:
                        return True
                time.sleep(0.2)
            return future.done() and bool(future.result().success)
        finally:
            self.node.destroy_client(client)
            self.node.destroy_client(state_client)

    def bring_up(self, node_name: str, timeout_s: float, stop_event: threading.Event,
                 check: Callable[[], None]) -> None:
        """configure then activate a lifecycle node, like the launch file's event handlers."""
        deadline = time.monotonic() + timeout_s
        while True:  # wait for the node's lifecycle services (its process may still be importing)
            check()
            client = self.node.create_client(ChangeState, f"/{node_name}/change_state")
            ready = client.wait_for_service(timeout_sec=0.5)
            self.node.destroy_client(client)
            if ready:
                break
            if stop_event.is_set():
                return
            if time.monotonic() > deadline:
                raise RunnerError(f"/{node_name}/change_state did not appear within {timeout_s} s")
        for label, transition in (("configure", Transition.TRANSITION_CONFIGURE),
                                  ("activate", Transition.TRANSITION_ACTIVATE)):
            if stop_event.is_set():
                return
            if not self.change_state(node_name, transition, max(1.0, deadline - time.monotonic())):
                end = time.monotonic() + 2.0  # the node publishes its reason on /diagnostics right away
                while "configure failed" not in self.latest(node_name).get("_message", "") and time.monotonic() < end:
                    time.sleep(0.05)
                why = self.latest(node_name).get("_message", "see the node's log")
                raise RunnerError(f"lifecycle {label} of {node_name} failed: {why}")
            print(f"[runner] {node_name}: {label} ok", flush=True)
