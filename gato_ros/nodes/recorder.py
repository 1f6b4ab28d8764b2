"""recorder node: records episodes (images, joint states, commanded efforts, instruction, outcome) as rosbag2 MCAP
directories through EpisodeBagWriter, one per episode under `output_dir`.

Episodes start and stop with ~/start and ~/stop (std_srvs/Trigger; `gato-ros record` maps keys onto them) or,
with `auto_start`, follow the sim's episodes. The outcome is the operator's mark (~/mark_success,
~/mark_failure; after ~/stop they rewrite the last episode) or else the sim's success on /diagnostics. The source
stored with an episode is what commanded the arm: each command is attributed to its publishing node (DDS publisher
GID) and labelled by that node's /gato/commander announcement (teleop, agent with its model and prompt, ...).
Ctrl-C closes the open episode; a SIGKILL loses at most the last `flush_period_s` (recovered on read).
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from geometry_msgs.msg import PoseArray
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Float64MultiArray, String
from std_srvs.srv import Trigger

from gato_ros.demos.bag import OUTPUT_TOPICS, DemoError, EpisodeBagWriter, replace_bag
from gato_ros.interfaces import (
    CAMERA_TOPIC, COMMAND_TOPIC, COMMANDER_QOS, COMMANDER_TOPIC, DIAGNOSTICS_QOS, DIAGNOSTICS_TOPIC, JOINT_STATES_TOPIC,
    LATCHED_QOS, OBJECT_EXTENTS_TOPIC, OBJECT_POSES_TOPIC, RECORDER_INPUT_QOS, SENSOR_QOS, image_msg_to_rgb,
)
from gato_ros.nodes.common import (
    OK, WARN, declare_dataclass_parameters, diagnostic_array, diagnostic_status, diagnostic_values, run_node,
)
from gato_ros.observation import object_extents_from_values, object_state_from_pose_array
from gato_ros.recorder import (
    CommandAttribution, Commander, RecorderConfig, SimEpisode, decide_outcome, episode_dir, gid_key,
    parse_sim_diagnostics,
    publisher_nodes, read_announcement,
)


class RecorderNode(Node):
    """Thin adapter: subscriptions -> EpisodeBagWriter; services start, stop and mark episodes."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(kwargs.pop("node_name", "recorder"), **kwargs)
        self.config = cfg = declare_dataclass_parameters(self, RecorderConfig)
        self.root = Path(cfg.output_dir).expanduser()
        self.writer: EpisodeBagWriter | None = None
        self.lock = threading.RLock()  # start/stop may come from another thread (`gato-ros record` keys)
        self.index = 0
        self.last_path: Path | None = None
        self.operator_mark: bool | None = None
        self.sim = SimEpisode()
        self.sim_at_start: int | None = None
        self.announced: dict[str, Commander] = {}  # fully qualified node name -> its announcement
        self.command_publishers: dict[bytes, str] = {}  # command publisher GID -> fully qualified node name
        self.attribution = CommandAttribution()
        self.counts = {"episodes": 0, "images": 0, "joint_states": 0, "object_poses": 0, "commands": 0, "errors": 0}
        inputs = RECORDER_INPUT_QOS.profile()
        self.create_subscription(Image, CAMERA_TOPIC, self._on_image, SENSOR_QOS.profile())
        self.create_subscription(JointState, JOINT_STATES_TOPIC, self._on_joint_state, inputs)
        # observations before commands: messages waiting together are taken in this order, so a command never gets
        # an earlier receipt time than the poses published with the joint state it followed
        self.create_subscription(PoseArray, OBJECT_POSES_TOPIC, self._on_object_poses, inputs)
        self.extents: np.ndarray | None = None  # newest /sim/object_extents: latched; each episode starts with it
        self.create_subscription(Float64MultiArray, OBJECT_EXTENTS_TOPIC, self._on_object_extents,
                                 LATCHED_QOS.profile())
        # two parameters: rclpy then passes the MessageInfo, whose publisher GID tells which node sent the command
        self.create_subscription(Float64MultiArray, COMMAND_TOPIC, lambda msg, info: self._on_command(msg, info),
                                 inputs)
        self.create_subscription(String, COMMANDER_TOPIC, self._on_commander, COMMANDER_QOS.profile())
        if cfg.record_outputs:  # the safety node's outputs (shadow mode: the arm's and the shadow output)
            for topic in OUTPUT_TOPICS:
                self.counts[topic] = 0
                self.create_subscription(Float64MultiArray, topic, lambda msg, topic=topic: self._on_output(msg, topic),
                                         inputs)
        self.create_subscription(DiagnosticArray, DIAGNOSTICS_TOPIC, self._on_diagnostics, DIAGNOSTICS_QOS.profile())
        self.diag_pub = self.create_publisher(DiagnosticArray, DIAGNOSTICS_TOPIC, DIAGNOSTICS_QOS.profile())
        self.create_service(Trigger, "~/start", self._srv(self.start))
        self.create_service(Trigger, "~/stop", self._srv(self.stop))
        self.create_service(Trigger, "~/mark_success", self._srv(lambda: self.mark(True)))
        self.create_service(Trigger, "~/mark_failure", self._srv(lambda: self.mark(False)))
        steady = Clock(clock_type=ClockType.STEADY_TIME)
        self.create_timer(cfg.flush_period_s, self._flush, clock=steady)
        self.create_timer(cfg.diagnostics_period_s, self._diagnose, clock=steady)
        self.get_logger().info(f"recorder: episodes go to {self.root.resolve()}")
        if cfg.auto_start:
            self.start()

    # ------------------------------------------------------------------ episodes

    @property
    def recording(self) -> bool:
        return self.writer is not None

    def start(self) -> str:
        """Open a new episode (closing an open one first)."""
        with self.lock:
            return self._start()

    def stop(self) -> str:
        """Close the open episode with its outcome; returns its directory."""
        with self.lock:
            return self._stop()

    def mark(self, success: bool) -> str:
        """Operator's outcome: for the open episode, else rewrite the last recorded one."""
        with self.lock:
            return self._mark(success)

    def _start(self) -> str:
        if self.writer is not None:
            self._stop()
        path = episode_dir(self.root, self.config.name_prefix, self.index)
        self.attribution = CommandAttribution()
        self.writer = EpisodeBagWriter(path, self.config.instruction, self._label()[0], self.config.camera,
                                       self.config.control_rate_hz, object_frame=self.config.object_frame)
        if self.extents is not None:
            self.writer.object_extents(self.extents, time.time_ns())
        self.index += 1
        self.operator_mark = None
        self.sim_at_start = self.sim.episode
        self.sim = SimEpisode(self.sim.episode, False)
        self.counts["episodes"] += 1
        self.get_logger().info(f"recording {path}")
        return str(path)

    def _stop(self) -> str:
        if self.writer is None:
            raise DemoError("not recording (call ~/start first)")
        writer, self.writer = self.writer, None
        self._lookup_publishers()
        source, meta = self._label()
        writer.set_metadata(source=source, **meta)
        outcome = decide_outcome(self.operator_mark, self.sim if self.sim.episode is not None else None)
        steps = writer.counts[COMMAND_TOPIC]
        if outcome is None:
            writer.close(None)
        else:
            writer.close(**outcome, steps=steps)
        self.last_path = writer.path
        self.get_logger().info(f"saved {writer.path}: {steps} steps by {source}, outcome {outcome}")
        return f"{writer.path} ({steps} steps by {source}, success={None if outcome is None else outcome['success']})"

    def _label(self) -> tuple[str, dict[str, str]]:
        return self.attribution.label(self.command_publishers, self.announced, self.config.source)

    def _mark(self, success: bool) -> str:
        if self.writer is not None:
            self.operator_mark = success
            return f"{self.writer.path} will be saved with success={success}"
        if self.last_path is None:
            raise DemoError("no episode to mark yet")
        replace_bag(self.last_path, outcome={"success": success, "marked_by": "operator"})
        return f"{self.last_path} marked success={success}"

    def _srv(self, action: Any) -> Any:
        def handle(request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
            try:
                response.message = action()
                response.success = True
            except (DemoError, OSError) as exc:
                response.success, response.message = False, str(exc)
            return response

        return handle

    # ------------------------------------------------------------------ data

    def _guard(self, fn: Any, *args: Any) -> None:
        with self.lock:
            if self.writer is None:
                return
            try:
                fn(*args)
            except (DemoError, ValueError) as exc:
                self.counts["errors"] += 1
                self.get_logger().warning(f"dropped a message: {exc}", throttle_duration_sec=2.0)

    def _on_image(self, msg: Image) -> None:
        self._guard(lambda: (self.writer.image(image_msg_to_rgb(msg), time.time_ns()), self._count("images")))

    def _on_joint_state(self, msg: JointState) -> None:
        n = len(msg.name)
        vel = msg.velocity if len(msg.velocity) == n else np.zeros(n)
        eff = msg.effort if len(msg.effort) == n else None
        self._guard(lambda: (self.writer.joint_state(list(msg.name), np.asarray(msg.position), np.asarray(vel),
                                                     None if eff is None else np.asarray(eff), time.time_ns()),
                             self._count("joint_states")))

    def _on_object_poses(self, msg: PoseArray) -> None:
        self._guard(lambda: (self.writer.object_poses(object_state_from_pose_array(msg), time.time_ns()),
                             self._count("object_poses")))

    def _on_object_extents(self, msg: Float64MultiArray) -> None:
        try:
            extents = object_extents_from_values(msg.data)
        except ValueError as exc:
            self.get_logger().warning(f"ignored object extents: {exc}")
            return
        with self.lock:
            self.extents = extents
        self._guard(lambda: self.writer.object_extents(extents, time.time_ns()))

    def _on_command(self, msg: Float64MultiArray, info: dict | None = None) -> None:
        self._guard(lambda: (self.writer.command(np.asarray(msg.data), time.time_ns()), self._count("commands"),
                             self._attribute(gid_key((info or {}).get("publisher_gid")))))

    def _on_output(self, msg: Float64MultiArray, topic: str) -> None:
        self._guard(lambda: (self.writer.output(topic, np.asarray(msg.data), time.time_ns()), self._count(topic)))

    def _attribute(self, gid: bytes) -> None:
        """Count a recorded command for its publisher; a publisher not seen yet is looked up in the graph."""
        if self.attribution.add(gid) and gid not in self.command_publishers:
            self._lookup_publishers()

    def _lookup_publishers(self) -> None:
        """Remember the node behind every current publisher of the command topic (kept after it leaves)."""
        self.command_publishers.update(publisher_nodes(self.get_publishers_info_by_topic(COMMAND_TOPIC)))

    def _on_commander(self, msg: String) -> None:
        who = read_announcement(msg.data, self.get_logger().warning)
        if who is None:
            return
        with self.lock:
            self.announced[who.node] = who

    def _count(self, key: str) -> None:
        self.counts[key] += 1

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            sim = parse_sim_diagnostics(diagnostic_values(status))
            if sim is None:
                continue
            new_episode = self.sim.episode is not None and sim.episode != self.sim.episode
            if new_episode and self.writer is not None and self.config.auto_start:
                with self.lock:
                    self._stop()  # the sim moved on: close this episode with the old episode's outcome
                    self._start()
            if sim.episode != self.sim.episode:
                self.sim = SimEpisode(sim.episode, False)
            self.sim.success = self.sim.success or sim.success

    def _flush(self) -> None:
        with self.lock:
            if self.writer is not None:
                self._lookup_publishers()
                source, meta = self._label()
                if self.writer.meta.get("source") != source or any(self.writer.meta.get(k) != v
                                                                     for k, v in meta.items()):
                    self.writer.set_metadata(source=source, **meta)  # a crash-recovered bag keeps its label
                self.writer.flush()

    def _diagnose(self) -> None:
        with self.lock:
            source = self._label()[0] if self.writer else ""
        values = {**self.counts, "recording": self.recording, "source": source, "output_dir": str(self.root),
                  "episode_dir": str(self.writer.path) if self.writer else "",
                  "last_episode": str(self.last_path or "")}
        level = OK if self.counts["errors"] == 0 else WARN
        message = f"recording {self.writer.path.name}" if self.writer else "idle"
        self.diag_pub.publish(diagnostic_array(self, [diagnostic_status(self, "recorder", level, message, values)]))

    def shutdown(self) -> None:
        """Close an open episode (Ctrl-C must leave a complete bag)."""
        with self.lock:
            if self.writer is not None:
                self._stop()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `recorder` executable; SIGINT/SIGTERM close the open episode and exit."""
    return run_node(RecorderNode, argv, on_exit=lambda node: node.shutdown())


if __name__ == "__main__":
    sys.exit(main())
