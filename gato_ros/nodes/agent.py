"""`agent` lifecycle node: newest image + joint state -> Gato policy -> /gato/effort_command at control_rate_hz.

configure loads the model dir (ONNX, gato.json, SentencePiece) and the optional prompt demo (prefilled once) and
creates the command publisher (a lifecycle publisher: it publishes only while active); activate starts the control
timer. Images go to the policy at the camera's size: the tokenizer alone crops and resizes them, as in training.
Stale, missing or malformed inputs publish nothing and say why on /diagnostics, so the safety node holds. A new
episode (cache back to the prompt) starts on `~/reset` (std_srvs/Trigger, which the runner calls after the sim's
`~/reset`) or when the joint-state stamps jump back (a sim restarting its clock).
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.clock import Clock, ClockType
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Float64MultiArray
from std_srvs.srv import Trigger

from gato_ros.agent import (
    AgentConfig, EpisodeClock, InputAge, LatencyStats, ModelInputs, resolve_model_dir, stale_reason,
)
from gato_ros.agent.layout import JointLayout, check_robot
from gato_ros.interfaces import (
    ANY_PUBLISHER_QOS, CAMERA_TOPIC, COMMAND_QOS, COMMAND_TOPIC, DIAGNOSTICS_QOS, DIAGNOSTICS_TOPIC, JOINT_STATES_TOPIC,
    OBJECT_POSES_TOPIC, SENSOR_QOS, STATE_QOS, ImageFormatError, image_msg_to_rgb,
)
from gato_ros.nodes.common import (
    ERROR, OK, WARN, declare_dataclass_parameters, diagnostic_array, diagnostic_status, run_node,
)
from gato_ros.observation import (
    JointNameError, object_state_from_pose_array, proprio_from_joints, reorder_joint_state,
)


class AgentNode(LifecycleNode):
    """Thin rclpy adapter around GatoPolicy; all decisions live in gato_ros.agent."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("agent", **kwargs)
        self.cfg: AgentConfig = declare_dataclass_parameters(self, AgentConfig)
        self._policy: Any = None
        self._layout: JointLayout | None = None
        self._model_dir = ""
        self._cmd_pub: Any = None  # lifecycle publisher, created in on_configure
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
        self._reason: str | None = "not configured"
        self._level = WARN
        self._stats = LatencyStats(self.cfg.period_s)
        self._episode_clock = EpisodeClock()
        self._published = 0
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
            if self._inputs.objects and self._objects_sub is None:
                from geometry_msgs.msg import PoseArray

                self._objects_sub = self.create_subscription(PoseArray, OBJECT_POSES_TOPIC, self._on_object_poses,
                                                             STATE_QOS.profile())
        except Exception as exc:  # ModelLoadError, ModelDirError, bad bag...: report, do not crash
            self._set_reason(ERROR, f"configure failed: {type(exc).__name__}: {exc}")
            self.get_logger().error(self._reason or "")
            self._publish_diagnostics()  # say why at once: the runner reports it
            return TransitionCallbackReturn.FAILURE
        self._policy, self._model_dir, self._layout = policy, str(model_dir), layout
        self._cmd_pub = self.create_lifecycle_publisher(Float64MultiArray, COMMAND_TOPIC, COMMAND_QOS.profile())
        if not layout.identity:
            self.get_logger().warning(f"model joint order {list(layout.model_names)} differs from joint_names "
                                      f"{list(layout.node_names)}: reordering by name")
        self._set_reason(WARN, "configured, inactive")
        tok = policy.config.tokenizer
        image = f"image {tok.image_height}x{tok.image_width}" if tok.use_image else "no image"
        self.get_logger().info(f"loaded {model_dir} on {policy.provider}; {image}")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._policy.reset()
        self._tick_timer = self.create_timer(self.cfg.period_s, self._tick)
        self._set_reason(WARN, "active, waiting for inputs")
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_timer()
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
        self._stop_timer()
        self._policy = None
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

    def _on_object_poses(self, msg: Any) -> None:
        try:
            self._objects, self._objects_t, self._objects_error = object_state_from_pose_array(msg), self._now(), None
        except ValueError as exc:
            self._objects, self._objects_error = None, f"bad object poses: {exc}"

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
        self._policy.reset()
        self._episodes += 1
        self.get_logger().info(f"new episode ({why})")

    # ------------------------------------------------------------------ control tick
    def _tick(self) -> None:
        start = time.perf_counter()
        reason = self._state_error or (self._objects_error if self._inputs.objects else None) or stale_reason(
            self._now(), InputAge(self._image_t, self._state_t, self._objects_t), self.cfg.image_timeout_s,
            self.cfg.state_timeout_s, self.cfg.objects_timeout_s, self._inputs)
        image = None
        if reason is None and self._inputs.image and self._image_msg is not None:
            m = self._image_msg
            try:
                image = image_msg_to_rgb(m)
            except ImageFormatError as exc:
                reason = f"bad image: {exc}"
        if reason is not None:
            self._skip(ERROR if reason.startswith("bad") else WARN, reason)
            return
        q, qd = self._joints
        try:
            extra = {"objects": self._objects} if self._inputs.objects else {}
            layout = self._layout
            proprio = proprio_from_joints(layout.observation(q), layout.observation(qd))
            efforts = np.asarray(self._policy.act(image, proprio, self.cfg.instruction or None, **extra), dtype=float)
            n = len(self.cfg.joint_names)
            if efforts.shape != (n,) or not np.all(np.isfinite(efforts)):
                raise ValueError(f"policy returned {efforts!r}, expected {n} finite efforts")
            efforts = layout.efforts(efforts)
        except Exception as exc:  # a policy fault must not kill the node; safety holds on silence
            self._skip(ERROR, f"policy error: {type(exc).__name__}: {exc}")
            return
        self._cmd_pub.publish(Float64MultiArray(data=efforts.tolist()))
        self._published += 1
        self._stats.record(time.perf_counter() - start)
        self._set_reason(OK, "acting")

    def _skip(self, level: int, reason: str) -> None:
        self._skipped += 1
        if reason != self._reason:
            self.get_logger().warning(f"not acting: {reason}", throttle_duration_sec=1.0)
        self._set_reason(level, reason)

    def _set_reason(self, level: int, reason: str) -> None:
        self._level, self._reason = level, reason

    # ------------------------------------------------------------------ diagnostics
    def _publish_diagnostics(self) -> None:
        policy = self._policy
        context = int(policy.context_tokens) if policy is not None else 0
        values: dict[str, Any] = {
            "model": self._model_dir, "provider": getattr(policy, "provider", ""),
            "control_rate_hz": self.cfg.control_rate_hz, "published": self._published, "skipped": self._skipped,
            "episodes": self._episodes, "context_tokens": context, "max_context_tokens": self.cfg.max_context_tokens,
            "context_fill": context / self.cfg.max_context_tokens,
            **{f"tick_{k}": v for k, v in self._stats.summary().items()},
        }
        status = diagnostic_status(self, "control", self._level, self._reason or "", values)
        self._diag_pub.publish(diagnostic_array(self, [status]))


def main(args: list[str] | None = None) -> int:
    """Entry point (`agent` console script, `python -m gato_ros.nodes.agent`); SIGINT/SIGTERM stop it cleanly."""
    return run_node(AgentNode, args)


if __name__ == "__main__":
    sys.exit(main())
