"""`agent` lifecycle node: camera frame (or timer) + joint state -> Gato policy -> /gato/effort_command.

configure loads the model dir (ONNX, gato.json, SentencePiece) and the optional prompt demo (prefilled once),
creates the command publisher (a lifecycle publisher: it publishes only while active) and the inference thread.
A control step starts on each camera frame as it arrives (`trigger: image`, at most control_rate_hz: FrameGate) or
on a timer (`trigger: timer`). The executor thread only checks the inputs and hands a snapshot to the inference
thread (gato_ros.agent.scheduling.InferenceWorker); a step asked for while one runs is skipped and counted
(`overruns`), so a slow model never holds up joint states, services or diagnostics. Each command carries its
image's stamp (gato_ros.interfaces.effort_command), which the safety node turns into image -> output latency.
Images go to the policy at the camera's size: the tokenizer alone crops and resizes them, as in training.
Stale, missing or malformed inputs publish nothing and say why on /diagnostics, so the safety node holds. A new
episode (cache back to the prompt, applied by the inference thread before its next step) starts on `~/reset`
(std_srvs/Trigger, which the runner calls after the sim's `~/reset`) or when the joint-state stamps jump back.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, NamedTuple

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.clock import Clock, ClockType
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Float64MultiArray, String
from std_srvs.srv import Trigger

from gato_ros.agent import (
    AgentConfig, EpisodeClock, InputAge, LatencyStats, ModelInputs, resolve_model_dir, stale_reason,
)
from gato_ros.agent.layout import JointLayout, check_robot
from gato_ros.agent.scheduling import FrameGate, InferenceWorker
from gato_ros.interfaces import (
    ACTION_DISTRIBUTION_TOPIC, ANY_PUBLISHER_QOS, CAMERA_TOPIC, COMMAND_QOS, COMMAND_TOPIC, DIAGNOSTICS_QOS,
    DIAGNOSTICS_TOPIC, JOINT_STATES_TOPIC, LATCHED_QOS, OBJECT_EXTENTS_TOPIC, OBJECT_POSES_TOPIC, SENSOR_QOS, STATE_QOS,
    ImageFormatError,
    effort_command, image_msg_to_rgb, stamp_ns,
)
from gato_ros.latency import StampLatency
from gato_ros.nodes.common import (
    ERROR, OK, WARN, announce_commander, declare_dataclass_parameters, diagnostic_array, diagnostic_status, run_node,
)
from gato_ros.observation import (
    JointNameError, object_extents_from_values, object_state_from_pose_array, proprio_from_joints,
    reorder_joint_state,
)


class Step(NamedTuple):
    """What one control step acts on: a snapshot taken on the executor thread, read by the inference thread."""

    image: Image | None  # decoded on the inference thread (None: the model takes no image)
    q: np.ndarray
    qd: np.ndarray
    objects: np.ndarray | None
    extents: np.ndarray | None  # the newest /sim/object_extents (None: the model takes none)
    stamp_ns: int  # the newest image's stamp (the observation's time); 0 when no image was received


class AgentNode(LifecycleNode):
    """Thin rclpy adapter around GatoPolicy; all decisions live in gato_ros.agent."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("agent", **kwargs)
        self.cfg: AgentConfig = declare_dataclass_parameters(self, AgentConfig)
        self._policy: Any = None
        self._layout: JointLayout | None = None
        self._model_dir = ""
        self._cmd_pub: Any = None  # lifecycle publisher, created in on_configure
        self._announcement: Any = None  # /gato/commander publisher (latched), created in on_configure
        self._dist_pub: Any = None  # /gato/action_distribution (live view), created in on_configure
        self._image_msg: Image | None = None
        self._image_t: float | None = None
        self._joints: tuple[np.ndarray, np.ndarray] | None = None
        self._state_t: float | None = None
        self._state_error: str | None = None
        self._inputs = ModelInputs()  # what the loaded model consumes (gato.json tokenizer.use_image/object_state)
        self._objects: np.ndarray | None = None  # newest /sim/object_poses as object_state [21]
        self._objects_t: float | None = None
        self._objects_error: str | None = None
        self._objects_sub = None
        self._extents: np.ndarray | None = None  # newest /sim/object_extents [9] (latched, once per episode)
        self._extents_error: str | None = None
        self._extents_sub = None
        self._reason: str | None = "not configured"
        self._level = WARN
        self._stats = LatencyStats(self.cfg.period_s)  # policy step time (decode + act), deadline = period
        self._stamp_latency = StampLatency()  # image stamp -> command published
        self._episode_clock = EpisodeClock()
        self._gate = FrameGate(self.cfg.period_s)
        self._worker: InferenceWorker | None = None
        self._active = False
        self._reset_lock = threading.Lock()
        self._reset_pending = False
        self._published = 0
        self._context_tokens = 0  # the KV cache's length after the last step (read by diagnostics, not mid-step)
        self._skipped = 0
        self._episodes = 0
        self._tick_timer = None
        self.create_subscription(Image, CAMERA_TOPIC, self._on_image, SENSOR_QOS.profile())
        # best effort: matches the safety node and any driver (a reliable subscription ignores best-effort drivers)
        self.create_subscription(JointState, JOINT_STATES_TOPIC, self._on_joint_state, ANY_PUBLISHER_QOS.profile())
        self._diag_pub = self.create_publisher(DiagnosticArray, DIAGNOSTICS_TOPIC, DIAGNOSTICS_QOS.profile())
        self.create_service(Trigger, "~/reset", self._on_reset)
        # diagnostics on the steady clock: with use_sim_time a dead sim must not freeze the last status
        self.create_timer(self.cfg.diagnostics_period_s, self._publish_diagnostics,
                          clock=Clock(clock_type=ClockType.STEADY_TIME))

    # ------------------------------------------------------------------ lifecycle
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Load model, tokenizer and prompt demo, create the command publisher; failure leaves the node unconfigured
        with the reason logged."""
        try:
            model_dir = resolve_model_dir(self.cfg.model_dir)
            from gato_ros.runtime import GatoPolicy

            policy = GatoPolicy(model_dir, provider=self.cfg.execution_provider,
                                max_context_tokens=self.cfg.max_context_tokens,
                                threads=self.cfg.intra_op_threads)
            if self.cfg.prompt_demo:
                from gato_ros.demos.bag import read_episode

                policy.set_prompt(read_episode(self.cfg.prompt_demo))
            # the model's joints by name: same order passes, a permutation is reordered, anything else fails here
            check_robot(policy.config.robot.name, self.cfg.robot)
            layout = JointLayout.match(policy.config.robot.joint_names, self.cfg.joint_names)
            self._inputs = ModelInputs.of(policy.config.tokenizer)
            self._inputs.check_object_frame(self.cfg.object_frame)
            if self._inputs.objects and self._objects_sub is None:
                from geometry_msgs.msg import PoseArray

                self._objects_sub = self.create_subscription(PoseArray, OBJECT_POSES_TOPIC, self._on_object_poses,
                                                             STATE_QOS.profile())
            if self._inputs.extents and self._extents_sub is None:
                self._extents_sub = self.create_subscription(Float64MultiArray, OBJECT_EXTENTS_TOPIC,
                                                             self._on_object_extents, LATCHED_QOS.profile())
        except Exception as exc:  # ModelLoadError, ModelDirError, bad bag...: report, do not crash
            self._set_reason(ERROR, f"configure failed: {type(exc).__name__}: {exc}")
            self.get_logger().error(self._reason or "")
            self._publish_diagnostics()  # say why at once: the runner reports it
            return TransitionCallbackReturn.FAILURE
        self._policy, self._model_dir, self._layout = policy, str(model_dir), layout
        self._worker = InferenceWorker(self._step, name="agent_inference")
        self._cmd_pub = self.create_lifecycle_publisher(Float64MultiArray, COMMAND_TOPIC, COMMAND_QOS.profile())
        if self._announcement is not None:
            self.destroy_publisher(self._announcement)
        if self._dist_pub is None:
            self._dist_pub = self.create_publisher(String, ACTION_DISTRIBUTION_TOPIC, SENSOR_QOS.profile())
        self._announcement = announce_commander(self, "agent", model=self._model_dir, prompt_demo=self.cfg.prompt_demo,
                                                instruction=self.cfg.instruction)
        if not layout.identity:
            self.get_logger().warning(f"model joint order {list(layout.model_names)} differs from joint_names "
                                      f"{list(layout.node_names)}: reordering by name")
        self._set_reason(WARN, "configured, inactive")
        tok = policy.config.tokenizer
        image = f"image {tok.image_height}x{tok.image_width}" if tok.use_image else "no image"
        self.get_logger().info(f"loaded {model_dir} on {policy.provider}; {image}")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        with self._reset_lock:
            self._reset_pending = True  # the inference thread is idle: the first step starts from the prompt
        self._gate.reset()
        if self.cfg.trigger == "timer":
            self._tick_timer = self.create_timer(self.cfg.period_s, self._tick)
        self._active = True
        self._set_reason(WARN, "active, waiting for inputs")
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = False
        self._stop_timer()
        if self._worker is not None and not self._worker.wait_idle(5.0):
            self.get_logger().warning("deactivating while a policy step still runs (> 5 s)")
        self._set_reason(WARN, "inactive")
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        self._set_reason(WARN, "not configured")
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def _release(self) -> None:
        self._active = False
        self._stop_timer()
        if self._worker is not None:
            self._worker.stop(5.0)
            self._worker = None
        self._policy, self._context_tokens = None, 0
        if self._cmd_pub is not None:
            self.destroy_lifecycle_publisher(self._cmd_pub)
            self._cmd_pub = None

    def _stop_timer(self) -> None:
        if self._tick_timer is not None:
            self.destroy_timer(self._tick_timer)
            self._tick_timer = None

    # ------------------------------------------------------------------ inputs
    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_image(self, msg: Image) -> None:
        self._image_msg, self._image_t = msg, self._now()
        if self._active and self.cfg.trigger == "image" and self._gate.admit(time.monotonic()):
            self._request()

    def _on_object_poses(self, msg: Any) -> None:
        try:
            self._objects, self._objects_t, self._objects_error = object_state_from_pose_array(msg), self._now(), None
        except ValueError as exc:
            self._objects, self._objects_error = None, f"bad object poses: {exc}"

    def _on_object_extents(self, msg: Float64MultiArray) -> None:
        try:
            self._extents, self._extents_error = object_extents_from_values(msg.data), None
        except ValueError as exc:
            self._extents, self._extents_error = None, f"bad object extents: {exc}"

    def _on_joint_state(self, msg: JointState) -> None:
        try:
            if len(msg.velocity) != len(msg.name):
                raise ValueError(f"joint state has {len(msg.velocity)} velocities for {len(msg.name)} names")
            q = np.asarray(reorder_joint_state(list(msg.name), list(msg.position), self.cfg.joint_names), float)
            qd = np.asarray(reorder_joint_state(list(msg.name), list(msg.velocity), self.cfg.joint_names), float)
        except (JointNameError, ValueError) as exc:
            self._joints, self._state_error = None, f"bad joint state: {exc}"
            return
        self._joints, self._state_t, self._state_error = (q, qd), self._now(), None
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        if stamp > 0 and self._episode_clock.observe(stamp) and self._policy is not None:
            self._new_episode("joint-state time jumped back")

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        if self._policy is None:
            response.success, response.message = False, "not configured"
        else:
            self._new_episode("~/reset called")
            response.success, response.message = True, f"episode {self._episodes}: cache back to the prompt"
        return response

    def _new_episode(self, why: str) -> None:
        with self._reset_lock:  # applied by the inference thread before its next step (never during one)
            self._reset_pending = True
        self._episodes += 1
        self.get_logger().info(f"new episode ({why})")

    # ------------------------------------------------------------------ control step
    def _tick(self) -> None:
        """trigger: timer: a step on the newest inputs."""
        self._request()

    def _input_reason(self) -> str | None:
        """Why the inputs do not allow a step now (bad or stale), or None. With trigger image the frames are needed
        even by a model that takes no image: they start the steps."""
        needs = self._inputs if self.cfg.trigger == "timer" else ModelInputs(True, self._inputs.objects)
        extents = (self._extents_error or ("no object extents received yet" if self._extents is None else None)
                   if self._inputs.extents else None)
        return self._state_error or (self._objects_error if self._inputs.objects else None) or extents or \
            stale_reason(self._now(), InputAge(self._image_t, self._state_t, self._objects_t),
                         self.cfg.image_timeout_s, self.cfg.state_timeout_s, self.cfg.objects_timeout_s, needs)

    def _request(self) -> None:
        """On the executor thread: check the inputs, then hand a snapshot to the inference thread (skip if busy)."""
        reason = self._input_reason()
        if reason is not None:
            self._skip(ERROR if reason.startswith("bad") else WARN, reason)
            return
        image_msg = self._image_msg
        q, qd = self._joints
        step = Step(image_msg if self._inputs.image else None, q, qd,
                    self._objects if self._inputs.objects else None, self._extents if self._inputs.extents else None,
                    stamp_ns(image_msg.header.stamp) if image_msg is not None else 0)
        worker = self._worker
        if worker is not None and not worker.submit(step):
            self.get_logger().warning("policy step still running: skipping this one (overrun)",
                                      throttle_duration_sec=1.0)

    def _step(self, step: Step) -> None:
        """On the inference thread: decode, act, publish the command stamped with its image's stamp."""
        start = time.perf_counter()
        policy, layout = self._policy, self._layout
        if policy is None or layout is None or not self._active:
            return
        with self._reset_lock:
            reset, self._reset_pending = self._reset_pending, False
        try:
            if reset:  # before anything can fail: a new episode is never lost
                policy.reset()
            image = image_msg_to_rgb(step.image) if step.image is not None else None
            extra = {name: value for name, value in (("objects", step.objects), ("extents", step.extents))
                     if value is not None}
            proprio = proprio_from_joints(layout.observation(step.q), layout.observation(step.qd))
            efforts = np.asarray(policy.act(image, proprio, self.cfg.instruction or None, **extra), dtype=float)
            self._context_tokens = int(policy.context_tokens)
            n = len(self.cfg.joint_names)
            if efforts.shape != (n,) or not np.all(np.isfinite(efforts)):
                raise ValueError(f"policy returned {efforts!r}, expected {n} finite efforts")
            efforts = layout.efforts(efforts)
        except ImageFormatError as exc:
            self._skip(ERROR, f"bad image: {exc}")
            return
        except Exception as exc:  # a policy fault must not kill the node; safety holds on silence
            self._skip(ERROR, f"policy error: {type(exc).__name__}: {exc}")
            return
        publisher = self._cmd_pub
        if publisher is None:  # cleaned up while this step ran
            return
        publisher.publish(effort_command(efforts, step.stamp_ns or None))
        if step.stamp_ns:
            self._stamp_latency.record(time.time_ns(), step.stamp_ns)
        self._published += 1
        self._stats.record(time.perf_counter() - start)
        self._set_reason(OK, "acting")
        if self._dist_pub is not None and self._dist_pub.get_subscription_count() > 0:  # watched: after timing
            self._publish_distribution()

    def _publish_distribution(self) -> None:
        import json

        from gato_ros.agent.distribution import action_distribution

        policy = self._policy
        names = self._layout.model_names if self._layout is not None else self.cfg.joint_names
        if policy.config.robot.action_space != "effort":  # the distributions are over the command's dimensions
            names = policy.config.robot.action_names
        dist = action_distribution(policy.last_logits, policy.tokenizer.decode_action_value, names)
        self._dist_pub.publish(String(data=json.dumps(dist)))

    def _skip(self, level: int, reason: str) -> None:
        self._skipped += 1
        if reason != self._reason:
            self.get_logger().warning(f"not acting: {reason}", throttle_duration_sec=1.0)
        self._set_reason(level, reason)

    def _set_reason(self, level: int, reason: str) -> None:
        self._level, self._reason = level, reason

    # ------------------------------------------------------------------ diagnostics
    def _publish_diagnostics(self) -> None:
        if self._active and self.cfg.trigger == "image":  # no frame, no step: say here why nothing is published
            reason = self._input_reason()
            if reason is not None:
                self._set_reason(ERROR if reason.startswith("bad") else WARN, reason)
        policy, context = self._policy, self._context_tokens
        values: dict[str, Any] = {
            "model": self._model_dir, "provider": getattr(policy, "provider", ""),
            "control_rate_hz": self.cfg.control_rate_hz, "trigger": self.cfg.trigger, "published": self._published,
            "skipped": self._skipped, "overruns": self._worker.overruns if self._worker is not None else 0,
            "frames_dropped": self._gate.dropped,
            "episodes": self._episodes, "context_tokens": context, "max_context_tokens": self.cfg.max_context_tokens,
            "context_fill": context / self.cfg.max_context_tokens,
            # a banded model rolls its cache; a full-attention one prefills its kept timesteps again (docs/RUNTIME.md)
            "attention_timesteps": getattr(policy, "band", 0), "reprefills": getattr(policy, "reprefills", 0),
            **{f"tick_{k}": v for k, v in self._stats.summary().items()},
            **{f"image_to_command_{k}": v for k, v in self._stamp_latency.summary().items()},
        }
        status = diagnostic_status(self, "control", self._level, self._reason or "", values)
        self._diag_pub.publish(diagnostic_array(self, [status]))


def main(args: list[str] | None = None) -> int:
    """Entry point (`agent` console script, `python -m gato_ros.nodes.agent`); SIGINT/SIGTERM stop it cleanly."""
    return run_node(AgentNode, args)


if __name__ == "__main__":
    sys.exit(main())
