"""sim node: the MuJoCo RGB Stacking cell (gato_ros.sim.StackingEnv) on the robot's ROS topics.

Subscribes /effort_controller/commands (the last valid command is applied until the next), publishes
/joint_states at joint_state_rate_hz, /camera/image_raw (rgb8) + /camera/camera_info at control_rate_hz,
/clock, the red, green and blue object poses on /sim/object_poses (geometry_msgs/PoseArray, frame "world", with
each joint state and the same stamp; a diagnostic observation) with their extents on /sim/object_extents (latched,
once per episode), and episode success on /diagnostics. Physics is
paced on the steady clock at real_time_factor (0 = as fast as possible; gato_ros.sim.pacer), so it never waits on
/clock, which it publishes itself. Parameters: gato_ros.sim.config.SimConfig.

Transport effects (docs/SIM2REAL.md; all 0 by default): joint states (with the object poses) and images are held
for a latency plus jitter (sim time) before publishing, stamped with the instant they measure, so a subscriber sees
the delay as /clock minus the stamp; a share of images is dropped; commands take effect command_latency_s after
they arrive (gato_ros.sim.transport.DelayLine).
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Pose, PoseArray
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rosgraph_msgs.msg import Clock as ClockMsg
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Float64MultiArray
from std_srvs.srv import Trigger

from gato_ros.interfaces import (
    ANY_PUBLISHER_QOS, CAMERA_INFO_TOPIC, CAMERA_TOPIC, CLOCK_QOS, CLOCK_TOPIC, DIAGNOSTICS_QOS, DIAGNOSTICS_TOPIC,
    EFFORT_OUTPUT_TOPIC, JOINT_STATES_TOPIC, LATCHED_QOS, OBJECT_EXTENTS_TOPIC, OBJECT_POSES_FRAME, OBJECT_POSES_TOPIC,
    SENSOR_QOS, STATE_QOS,
)
from gato_ros.nodes.common import (
    ERROR, OK, WARN, declare_dataclass_parameters, diagnostic_array, diagnostic_status, run_node,
)
from gato_ros.sim.config import SimConfig
from gato_ros.sim.pacer import Pacer
from gato_ros.sim.transport import DelayLine


def stamp_from_seconds(t: float) -> Time:
    ns = int(round(t * 1e9))  # round once: t = 2.9999999996 must give 3 s, not 2 s + 0 ns
    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def pose_array(object_state: np.ndarray, stamp: Time) -> PoseArray:
    """PoseArray (frame "world", OBJECT_COLORS order) from an object_state row [21] (pos3 + quat wxyz4 each)."""
    msg = PoseArray()
    msg.header.stamp = stamp
    msg.header.frame_id = OBJECT_POSES_FRAME
    for i in range(len(object_state) // 7):
        x, y, z, qw, qx, qy, qz = (float(v) for v in object_state[7 * i: 7 * i + 7])
        pose = Pose()
        pose.position.x, pose.position.y, pose.position.z = x, y, z
        pose.orientation.w, pose.orientation.x, pose.orientation.y, pose.orientation.z = qw, qx, qy, qz
        msg.poses.append(pose)
    return msg


def camera_info(width: int, height: int, fovy_deg: float, frame_id: str) -> CameraInfo:
    """Pinhole CameraInfo of a MuJoCo camera (square pixels, principal point at the centre)."""
    f = 0.5 * height / math.tan(math.radians(fovy_deg) / 2)
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    msg = CameraInfo()
    msg.header.frame_id = frame_id
    msg.width, msg.height = width, height
    msg.distortion_model = "plumb_bob"
    msg.d = [0.0] * 5
    msg.k = [f, 0.0, cx, 0.0, f, cy, 0.0, 0.0, 1.0]
    msg.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    msg.p = [f, 0.0, cx, 0.0, 0.0, f, cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    return msg


class SimNode(Node):
    """Steps StackingEnv with the newest command and publishes what a real cell's drivers would."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("sim", **kwargs)
        self.config = cfg = declare_dataclass_parameters(self, SimConfig)
        from gato_ros.sim import StackingEnv

        self.env = StackingEnv(cell=cfg.cell, camera=cfg.camera, image_size=(cfg.image_height, cfg.image_width),
                               object_set=cfg.object_set, randomization=cfg.randomization,
                               dynamics=cfg.dynamics or None, robot=cfg.robot, object_frame=cfg.object_frame)
        self.joint_names = list(self.env.joint_names)
        self.n = len(self.joint_names)
        self.physics_dt = float(self._physics_timestep())
        self.chunk_steps = max(1, round(1.0 / cfg.joint_state_rate_hz / self.physics_dt))
        self.chunk_s = self.chunk_steps * self.physics_dt
        self.image_every = max(1, round(1.0 / cfg.control_rate_hz / self.chunk_s))
        self.pacer = Pacer(self.chunk_s, cfg.real_time_factor)
        self.command = np.zeros(self.n)
        self.counts = {"commands": 0, "bad_commands": 0, "images": 0, "joint_states": 0, "object_poses": 0,
                       "episodes": 0, "images_dropped": 0}
        # transport effects (all zero: every message passes at once); their own random stream, seeded
        rng = np.random.default_rng([cfg.seed, 0x7A5])
        self.state_line: DelayLine[tuple[JointState, PoseArray]] = DelayLine(cfg.joint_state_latency_s,
                                                                              cfg.joint_state_jitter_s, rng=rng)
        self.image_line: DelayLine[Image] = DelayLine(cfg.image_latency_s, cfg.image_jitter_s, cfg.image_drop_rate,
                                                      rng=rng)
        self.command_line: DelayLine[np.ndarray] = DelayLine(cfg.command_latency_s, rng=rng)
        self.episode = -1
        self.chunk = 0
        self.sim_time = 0.0  # continuous across episodes, so /clock never goes backwards
        self._episode_t0 = 0.0
        self._obs: Any = None
        self._success = False
        self._last_command_wall: float | None = None
        self._info = camera_info(cfg.image_width, cfg.image_height, self._fovy(), "camera")
        self.viewer = None
        if cfg.viewer:
            from gato_ros.sim.viewer import SimViewer

            self.viewer = SimViewer(lambda text: self.get_logger().warning(text))

        self.js_pub = self.create_publisher(JointState, JOINT_STATES_TOPIC, STATE_QOS.profile())
        self.img_pub = self.create_publisher(Image, CAMERA_TOPIC, SENSOR_QOS.profile())
        self.objects_pub = self.create_publisher(PoseArray, OBJECT_POSES_TOPIC, STATE_QOS.profile())
        self.extents_pub = self.create_publisher(Float64MultiArray, OBJECT_EXTENTS_TOPIC, LATCHED_QOS.profile())
        self.info_pub = self.create_publisher(CameraInfo, CAMERA_INFO_TOPIC, SENSOR_QOS.profile())
        self.clock_pub = (self.create_publisher(ClockMsg, CLOCK_TOPIC, CLOCK_QOS.profile()) if cfg.publish_clock
                          else None)
        self.diag_pub = self.create_publisher(DiagnosticArray, DIAGNOSTICS_TOPIC, DIAGNOSTICS_QOS.profile())
        self.create_subscription(Float64MultiArray, EFFORT_OUTPUT_TOPIC, self._on_command, ANY_PUBLISHER_QOS.profile())
        self.create_service(Trigger, "~/reset", self._on_reset)
        self._new_episode()
        steady = Clock(clock_type=ClockType.STEADY_TIME)
        period = self.chunk_s / cfg.real_time_factor / 2 if cfg.real_time_factor > 0 else 1e-4
        self.create_timer(period, self._tick, clock=steady)
        self.create_timer(cfg.diagnostics_period_s, self._diagnose, clock=steady)
        self.get_logger().info(
            f"sim: cell={cfg.cell} camera={cfg.camera} {cfg.image_width}x{cfg.image_height}, physics dt "
            f"{self.physics_dt * 1e3:.2f} ms, {self.chunk_steps} steps per joint state, rtf {cfg.real_time_factor}, "
            f"randomization {self.env.randomization.name}, dynamics {cfg.dynamics or 'nominal'}"
        )

    # ------------------------------------------------------------------ env access

    def _physics_timestep(self) -> float:
        for attr in ("physics_dt", "timestep"):
            value = getattr(self.env, attr, None)
            if isinstance(value, (int, float)) and value > 0:
                return float(value)
        model = getattr(self.env, "model", None)
        if model is not None:
            return float(model.opt.timestep)
        raise RuntimeError("StackingEnv exposes no physics timestep (physics_dt, timestep or model.opt.timestep)")

    def _fovy(self) -> float:
        model = getattr(self.env, "model", None)
        try:
            import mujoco

            cam = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, self.config.camera)
            if cam >= 0:
                return float(model.cam_fovy[cam])
        except Exception:  # noqa: BLE001 - camera_info is informative; fall back to MuJoCo's default fovy
            pass
        return 45.0

    # ------------------------------------------------------------------ episodes

    def _new_episode(self) -> None:
        self.episode += 1
        self.counts["episodes"] += 1
        seed = self.config.seed + self.episode
        self._obs = self.env.reset(seed)
        self.extents_pub.publish(Float64MultiArray(data=[float(v) for v in self.env.object_extents()]))
        if self.env.randomization.enabled:  # the field of view is drawn per episode
            self._info = camera_info(self.config.image_width, self.config.image_height, self._fovy(), "camera")
        self._episode_t0 = self.sim_time
        self._success = False
        self.command = np.zeros(self.n)
        self.command_line.clear()  # a command sent in the last episode never acts in this one
        self.chunk = 0
        self.pacer.restart(time.monotonic(), self.sim_time)
        self._publish_state()
        self._publish_image()
        if self.viewer is not None:
            self.viewer.attach(self.env.model, self.env.data)  # a new object triplet can mean a new model
        self.get_logger().info(f"episode {self.episode} (seed {seed})")

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        was = self._success
        self._new_episode()
        response.success = True
        response.message = f"episode {self.episode} seed {self.config.seed + self.episode} (previous success: {was})"
        return response

    # ------------------------------------------------------------------ loop

    def _on_command(self, msg: Float64MultiArray) -> None:
        data = np.asarray(msg.data, dtype=np.float64)
        if data.shape != (self.n,) or not np.all(np.isfinite(data)):
            self.counts["bad_commands"] += 1  # a real controller refuses these too
            return
        self.command_line.push(self.sim_time, data)  # takes effect after command_latency_s (at once when 0)
        self.counts["commands"] += 1
        self._last_command_wall = time.monotonic()
        if not self.command_line.latency_s:
            self._apply_due_commands()

    def _apply_due_commands(self) -> None:
        due = self.command_line.due(self.sim_time)
        if due:
            self.command = due[-1][1]

    def _tick(self) -> None:
        for _ in range(self.pacer.chunks_due(time.monotonic(), self.sim_time)):
            self._apply_due_commands()
            self._obs = self.env.physics_step(self.command, self.chunk_steps)
            self.sim_time += self.chunk_s
            self.chunk += 1
            self._publish_state()
            if self.chunk % self.image_every == 0:
                self._publish_image()
        if self.viewer is not None:
            self.viewer.sync()

    def close(self) -> None:
        """Close the viewer window (if any) and the env."""
        if self.viewer is not None:
            self.viewer.close()
        self.env.close()

    def _stamp(self) -> Time:
        if self.get_parameter("use_sim_time").value:
            return stamp_from_seconds(self.sim_time)
        return self.get_clock().now().to_msg()

    def _publish_state(self) -> None:
        obs = self._obs if self._obs is not None else self.env.observe()
        if self.clock_pub is not None:
            self.clock_pub.publish(ClockMsg(clock=stamp_from_seconds(self.sim_time)))
        msg = JointState()
        msg.header.stamp = stamp = self._stamp()
        msg.name = self.joint_names
        msg.position = [float(x) for x in obs.q]
        msg.velocity = [float(x) for x in obs.qd]
        msg.effort = [float(x) for x in obs.effort]
        # the object poses share the joints' instant; both wait joint_state_latency_s (+ jitter) before publishing
        self.state_line.push(self.sim_time, (msg, pose_array(self.env.object_state(), stamp)))
        self._publish_due()

    def _publish_due(self) -> None:
        """Publish the joint states and images whose transport delay has passed (all at once without delays)."""
        for _, (joints, poses) in self.state_line.due(self.sim_time):
            self.js_pub.publish(joints)
            self.counts["joint_states"] += 1
            self.objects_pub.publish(poses)
            self.counts["object_poses"] += 1
        for _, img in self.image_line.due(self.sim_time):
            self.img_pub.publish(img)
            self._info.header.stamp = img.header.stamp  # the capture instant (serialized at publish)
            self.info_pub.publish(self._info)
            self.counts["images"] += 1

    def _publish_image(self) -> None:
        rgb = np.ascontiguousarray(self.env.render(), dtype=np.uint8)
        stamp = self._stamp()
        img = Image()
        img.header.stamp = stamp
        img.header.frame_id = "camera"
        img.height, img.width = int(rgb.shape[0]), int(rgb.shape[1])
        img.encoding = "rgb8"
        img.is_bigendian = 0
        img.step = img.width * 3
        img.data = rgb.tobytes()
        if not self.image_line.push(self.sim_time, img):
            self.counts["images_dropped"] += 1
        self._publish_due()
        self._success = self._success or bool(self.env.success())

    def _diagnose(self) -> None:
        now = time.monotonic()
        stage = self.env.stage() if hasattr(self.env, "stage") else ""
        success = bool(self.env.success())
        self._success = self._success or success
        values = {
            "episode": self.episode,
            "seed": self.config.seed + self.episode,
            "success": success,
            "success_ever": self._success,
            "stage": stage,
            "randomization": self.env.randomization.name,
            "transport_held": len(self.state_line) + len(self.image_line) + len(self.command_line),
            "episode_time_s": self.sim_time - self._episode_t0,
            "sim_time_s": self.sim_time,
            "real_time_factor": self.pacer.achieved(now, self.sim_time),
            "dropped_sim_s": self.pacer.dropped_s,
            "last_command_age_s": (now - self._last_command_wall) if self._last_command_wall else "never",
            "last_command": [float(x) for x in self.command],
            **self.counts,
            **({"viewer": self.viewer.state} if self.viewer is not None else {}),
        }
        level = OK if self.counts["bad_commands"] == 0 else WARN
        if self._obs is not None and not np.all(np.isfinite(self._obs.q)):
            level = ERROR
        message = f"episode {self.episode}: {'success' if success else stage or 'running'}"
        self.diag_pub.publish(diagnostic_array(self, [diagnostic_status(self, "episode", level, message, values)]))


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `sim` executable; SIGINT/SIGTERM stop it cleanly (exit status 0)."""
    return run_node(SimNode, argv, on_exit=SimNode.close)


if __name__ == "__main__":
    sys.exit(main())
