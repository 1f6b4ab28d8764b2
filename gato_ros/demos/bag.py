"""Demonstrations as rosbag2 directories with MCAP storage (written and read with `rosbags`).

One episode per directory. Topics: /camera/image_raw (sensor_msgs/Image rgb8), /joint_states,
/gato/effort_command (std_msgs/Float64MultiArray), /gato/instruction (std_msgs/String, once) and
/gato/outcome (std_msgs/String with JSON {"success": bool, ...}, at the end), and optionally /sim/object_poses
(geometry_msgs/PoseArray, frame "world", red/green/blue in OBJECT_COLORS order; a diagnostic observation only the
sim has) with /sim/object_extents (std_msgs/Float64MultiArray, interfaces.OBJECT_EXTENTS_SIZE) and
/gato/cartesian_command (std_msgs/Float64MultiArray, CARTESIAN_COMMAND_NAMES: the sim expert's Cartesian command
behind each effort command, what robot.action_space: cartesian models learn). The instruction, outcome and source are
also in metadata.yaml's custom_data. Timesteps align on effort commands: each command is one step, paired with the
newest image, joint state (and object poses and extents, when the bag has any) at or before it; a bag without object
poses reads as Episode.object_state = None (likewise extents). A bag whose writer died (no metadata.yaml, MCAP
without footer) is recovered on read: every complete chunk is kept.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from gato_ros.episode import Episode
from gato_ros.interfaces import (
    CAMERA_TOPIC, CARTESIAN_COMMAND_SIZE, CARTESIAN_COMMAND_TOPIC, COMMAND_TOPIC, EFFORT_OUTPUT_TOPIC,
    INSTRUCTION_TOPIC, JOINT_NAMES, JOINT_STATES_TOPIC, OBJECT_COLORS, OBJECT_EXTENTS_TOPIC,
    OBJECT_POSES_FRAME, OBJECT_POSES_TOPIC, OBJECT_STATE_SIZE, OUTCOME_TOPIC, SHADOW_OUTPUT_TOPIC, ImageFormatError,
    image_msg_to_rgb,
)
from gato_ros.observation import (
    JointNameError, object_extents_from_values, object_state_from_pose_array, object_state_from_poses,
    reorder_joint_state,
)

#: The topics of a demo bag and their types (names: gato_ros.interfaces).
TYPES = {
    CAMERA_TOPIC: "sensor_msgs/msg/Image",
    JOINT_STATES_TOPIC: "sensor_msgs/msg/JointState",
    COMMAND_TOPIC: "std_msgs/msg/Float64MultiArray",
    INSTRUCTION_TOPIC: "std_msgs/msg/String",
    OUTCOME_TOPIC: "std_msgs/msg/String",
    OBJECT_POSES_TOPIC: "geometry_msgs/msg/PoseArray",
}
#: Topics a bag holds only when they were recorded (the safety node's outputs; their connections are added on first
#: write, so a demo bag without them has none): all std_msgs/Float64MultiArray in JOINT_NAMES order.
OUTPUT_TOPICS = (EFFORT_OUTPUT_TOPIC, SHADOW_OUTPUT_TOPIC)
FLOAT_ARRAY = "std_msgs/msg/Float64MultiArray"
MCAP_MAGIC = b"\x89MCAP0\r\n"
WRITER_FILE = ".writer.json"  # in an open bag: {"pid", "custom_data"} of the writer (removed on close)


class DemoError(RuntimeError):
    """A demo directory that is missing, not a rosbag2 bag, corrupt, or holds no usable timestep."""


def _typestore() -> Any:
    from rosbags.typesys import Stores, get_typestore

    return get_typestore(Stores.ROS2_KILTED)


def _stamp(ts: Any, t_ns: int) -> Any:
    return ts.types["builtin_interfaces/msg/Time"](sec=int(t_ns // 1_000_000_000), nanosec=int(t_ns % 1_000_000_000))


class EpisodeBagWriter:
    """Streams one episode into `path` (must not exist); `close(success)` writes the outcome and metadata."""

    def __init__(self, path: str | Path, instruction: str = "", source: str = "teleop",
                 camera: str = "basket_front_left", control_rate_hz: float = 20.0, task: str = "rgb_stacking",
                 object_frame: str = "body") -> None:
        from rosbags.rosbag2 import StoragePlugin, Writer

        self.path = Path(path)
        if self.path.exists():
            raise DemoError(f"{self.path} already exists; a demo directory holds exactly one episode")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.ts = _typestore()
        self.writer = Writer(self.path, version=9, storage_plugin=StoragePlugin.MCAP)
        self.writer.open()
        self.conns = {topic: self.writer.add_connection(topic, kind, typestore=self.ts)
                      for topic, kind in TYPES.items()}
        self.meta = {"instruction": instruction, "source": source, "camera": camera, "task": task,
                     "control_rate_hz": str(control_rate_hz), "object_frame": object_frame}
        (self.path / WRITER_FILE).write_text(json.dumps({"pid": os.getpid(), "custom_data": self.meta}))
        self.counts = {topic: 0 for topic in TYPES}
        self.last_t = 0
        self.closed = False
        self._instruction = instruction  # written with the first message's time, so the bag's start is real

    def _write(self, topic: str, msg: Any, t_ns: int) -> None:
        if self.closed:
            raise DemoError(f"{self.path}: writer already closed")
        self._write_instruction(t_ns)
        self.writer.write(self.conns[topic], int(t_ns), self.ts.serialize_cdr(msg, TYPES.get(topic, FLOAT_ARRAY)))
        self.counts[topic] += 1
        self.last_t = max(self.last_t, int(t_ns))

    def _write_instruction(self, t_ns: int) -> None:
        """The instruction, once, before the first other message (stamped with that message's time)."""
        if self._instruction:
            text, self._instruction = self._instruction, ""
            self._write(INSTRUCTION_TOPIC, self.ts.types["std_msgs/msg/String"](data=text), t_ns)

    def image(self, rgb: np.ndarray, t_ns: int, frame_id: str = "camera") -> None:
        img = np.ascontiguousarray(rgb, dtype=np.uint8)
        if img.ndim != 3 or img.shape[2] != 3:
            raise DemoError(f"image must be HxWx3 RGB, got {img.shape}")
        t = self.ts.types
        msg = t["sensor_msgs/msg/Image"](
            header=t["std_msgs/msg/Header"](stamp=_stamp(self.ts, t_ns), frame_id=frame_id),
            height=img.shape[0], width=img.shape[1], encoding="rgb8", is_bigendian=0, step=img.shape[1] * 3,
            data=img.reshape(-1))
        self._write(CAMERA_TOPIC, msg, t_ns)

    def joint_state(self, names: list[str], position: np.ndarray, velocity: np.ndarray, effort: np.ndarray | None,
                    t_ns: int) -> None:
        t = self.ts.types
        n = len(names)
        msg = t["sensor_msgs/msg/JointState"](
            header=t["std_msgs/msg/Header"](stamp=_stamp(self.ts, t_ns), frame_id=""), name=list(names),
            position=np.asarray(position, np.float64).reshape(n), velocity=np.asarray(velocity, np.float64).reshape(n),
            effort=np.zeros(n) if effort is None else np.asarray(effort, np.float64).reshape(n))
        self._write(JOINT_STATES_TOPIC, msg, t_ns)

    def object_poses(self, poses: dict[str, tuple[Any, Any]] | np.ndarray, t_ns: int) -> None:
        """Object poses as one PoseArray: `poses` is {color: (pos3, quat_wxyz4)} or an object_state row [21]."""
        state = as_object_state(poses)
        t = self.ts.types
        msg = t["geometry_msgs/msg/PoseArray"](
            header=t["std_msgs/msg/Header"](stamp=_stamp(self.ts, t_ns), frame_id=OBJECT_POSES_FRAME),
            poses=[_pose(t, state[7 * i: 7 * i + 7]) for i in range(len(OBJECT_COLORS))])
        self._write(OBJECT_POSES_TOPIC, msg, t_ns)

    def object_extents(self, extents: np.ndarray, t_ns: int) -> None:
        """The objects' extents (interfaces.OBJECT_EXTENTS_SIZE values), recorded when they are known or change."""
        try:
            values = object_extents_from_values(extents)
        except ValueError as exc:
            raise DemoError(str(exc)) from exc
        if OBJECT_EXTENTS_TOPIC not in self.conns:
            self.conns[OBJECT_EXTENTS_TOPIC] = self.writer.add_connection(OBJECT_EXTENTS_TOPIC, FLOAT_ARRAY,
                                                                          typestore=self.ts)
            self.counts[OBJECT_EXTENTS_TOPIC] = 0
        self._write(OBJECT_EXTENTS_TOPIC, self._float_array(values), t_ns)

    def command(self, efforts: np.ndarray, t_ns: int) -> None:
        self._write(COMMAND_TOPIC, self._float_array(efforts), t_ns)

    def _float_array(self, values: np.ndarray) -> Any:
        t = self.ts.types
        layout = t["std_msgs/msg/MultiArrayLayout"](dim=[], data_offset=0)
        return t[FLOAT_ARRAY](layout=layout, data=np.asarray(values, np.float64).reshape(-1))

    def cartesian_command(self, command: np.ndarray, t_ns: int) -> None:
        """The Cartesian command (CARTESIAN_COMMAND_NAMES) behind the effort command of the same time."""
        if CARTESIAN_COMMAND_TOPIC not in self.conns:
            self.conns[CARTESIAN_COMMAND_TOPIC] = self.writer.add_connection(CARTESIAN_COMMAND_TOPIC, FLOAT_ARRAY,
                                                                             typestore=self.ts)
            self.counts[CARTESIAN_COMMAND_TOPIC] = 0
        self._write(CARTESIAN_COMMAND_TOPIC, self._float_array(command), t_ns)

    def output(self, topic: str, efforts: np.ndarray, t_ns: int) -> None:
        """One message of a safety output topic (OUTPUT_TOPICS): the arm's efforts or the shadow output."""
        if topic not in OUTPUT_TOPICS:
            raise DemoError(f"{topic} is not a safety output topic {OUTPUT_TOPICS}")
        if topic not in self.conns:
            self.conns[topic] = self.writer.add_connection(topic, FLOAT_ARRAY, typestore=self.ts)
            self.counts[topic] = 0
        self._write(topic, self._float_array(efforts), t_ns)

    def set_metadata(self, **values: Any) -> None:
        """Update custom_data (e.g. the source, known only once the episode's commands are in); also in the sidecar,
        so a bag recovered after a crash keeps it."""
        self.meta.update({k: str(v) for k, v in values.items()})
        if not self.closed:
            (self.path / WRITER_FILE).write_text(json.dumps({"pid": os.getpid(), "custom_data": self.meta}))

    def flush(self) -> None:
        """Write the pending MCAP chunk to disk now, so a killed writer loses nothing before this call."""
        storage = getattr(self.writer, "storage", None)
        chunk = getattr(storage, "chunk", None)
        if self.closed or chunk is None or not hasattr(storage, "close_chunk") or chunk.bio.tell() == 0:
            return
        storage.close_chunk()
        bio = getattr(storage, "bio", None)
        if bio is not None:
            bio.flush()

    def close(self, success: bool | None = None, **outcome: Any) -> Path:
        """Write the outcome (when known) and metadata.yaml; the bag is complete afterwards."""
        if self.closed:
            return self.path
        self._write_instruction(self.last_t)  # an episode without messages still names its instruction
        if success is not None or outcome:
            payload = json.dumps({"success": success, **outcome})
            self._write(OUTCOME_TOPIC, self.ts.types["std_msgs/msg/String"](data=payload), self.last_t + 1)
            self.meta["success"] = json.dumps(success)
        for key, value in self.meta.items():
            self.writer.set_custom_data(key, str(value))
        self.writer.close()
        (self.path / WRITER_FILE).unlink(missing_ok=True)
        self.closed = True
        return self.path

    def __enter__(self) -> "EpisodeBagWriter":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def as_object_state(poses: dict[str, tuple[Any, Any]] | np.ndarray) -> np.ndarray:
    """An object_state row [21] from {color: (pos3, quat_wxyz4)} or from a [21] vector (re-normalized)."""
    if isinstance(poses, dict):
        return object_state_from_poses(poses)
    row = np.asarray(poses, dtype=np.float64).reshape(-1)
    if row.shape != (OBJECT_STATE_SIZE,):
        raise DemoError(f"object state must have {OBJECT_STATE_SIZE} values, got {row.shape[0]}")
    return object_state_from_poses({c: (row[7 * i: 7 * i + 3], row[7 * i + 3: 7 * i + 7])
                                    for i, c in enumerate(OBJECT_COLORS)})


def _pose(types: Any, row: np.ndarray) -> Any:
    """geometry_msgs/Pose from [x y z qw qx qy qz]."""
    return types["geometry_msgs/msg/Pose"](
        position=types["geometry_msgs/msg/Point"](x=float(row[0]), y=float(row[1]), z=float(row[2])),
        orientation=types["geometry_msgs/msg/Quaternion"](w=float(row[3]), x=float(row[4]), y=float(row[5]),
                                                          z=float(row[6])))


def write_episode(path: str | Path, ep: Episode) -> Path:
    """Write a whole Episode: per step t an image, a joint state (and object poses, when the episode has them)
    at t/rate and the command 1 ns later."""
    period = int(round(1e9 / ep.control_rate_hz))
    with EpisodeBagWriter(path, ep.instruction, ep.source, ep.camera, ep.control_rate_hz, ep.task,
                          ep.object_frame) as w:
        for t in range(len(ep)):
            t_ns = 1_000_000 + t * period
            w.image(ep.images[t], t_ns)
            w.joint_state(list(ep.joint_names), ep.joint_positions[t], ep.joint_velocities[t], None, t_ns)
            if ep.object_state is not None:
                w.object_poses(ep.object_state[t], t_ns)
            if ep.object_extents is not None:  # every step, so a bag trimmed by time keeps them
                w.object_extents(ep.object_extents[t], t_ns)
            w.command(ep.actions[t], t_ns + 1)
            if ep.cartesian_commands is not None:
                w.cartesian_command(ep.cartesian_commands[t], t_ns + 1)
        w.close(ep.success)
    return Path(path)


# ----------------------------------------------------------------------------------------------- reading


@dataclass
class _Messages:
    images: list[tuple[int, np.ndarray]] = field(default_factory=list)
    joints: list[tuple[int, Any]] = field(default_factory=list)
    commands: list[tuple[int, np.ndarray]] = field(default_factory=list)
    objects: list[tuple[int, np.ndarray]] = field(default_factory=list)
    cartesian: list[tuple[int, np.ndarray]] = field(default_factory=list)
    extents: list[tuple[int, np.ndarray]] = field(default_factory=list)
    instruction: str = ""
    outcome: dict = field(default_factory=dict)


def _image_rgb(msg: Any) -> np.ndarray:
    try:
        return image_msg_to_rgb(msg)
    except ImageFormatError as exc:
        raise DemoError(str(exc)) from exc


def _read_messages(path: Path) -> _Messages:
    from rosbags.rosbag2 import Reader

    ts = _typestore()
    out = _Messages()
    try:
        with Reader(path) as reader:
            conns = [c for c in reader.connections
                     if c.topic in TYPES or c.topic in (CARTESIAN_COMMAND_TOPIC, OBJECT_EXTENTS_TOPIC)]
            for conn, t_ns, raw in reader.messages(connections=conns):
                msg = ts.deserialize_cdr(raw, conn.msgtype)
                if conn.topic == CAMERA_TOPIC:
                    out.images.append((t_ns, _image_rgb(msg)))
                elif conn.topic == JOINT_STATES_TOPIC:
                    out.joints.append((t_ns, msg))
                elif conn.topic == COMMAND_TOPIC:
                    out.commands.append((t_ns, np.asarray(msg.data, dtype=np.float64)))
                elif conn.topic == CARTESIAN_COMMAND_TOPIC:
                    out.cartesian.append((t_ns, np.asarray(msg.data, dtype=np.float64)))
                elif conn.topic == OBJECT_EXTENTS_TOPIC:
                    try:
                        out.extents.append((t_ns, object_extents_from_values(msg.data)))
                    except ValueError as exc:
                        raise DemoError(f"{path}: {OBJECT_EXTENTS_TOPIC}: {exc}") from exc
                elif conn.topic == OBJECT_POSES_TOPIC:
                    try:
                        out.objects.append((t_ns, object_state_from_pose_array(msg)))
                    except ValueError as exc:
                        raise DemoError(f"{path}: {OBJECT_POSES_TOPIC}: {exc}") from exc
                elif conn.topic == INSTRUCTION_TOPIC:
                    out.instruction = msg.data
                elif conn.topic == OUTCOME_TOPIC:
                    try:
                        out.outcome = json.loads(msg.data)
                    except json.JSONDecodeError as exc:
                        raise DemoError(f"{path}: /gato/outcome is not JSON: {msg.data!r}") from exc
    except DemoError:
        raise
    except Exception as exc:
        raise DemoError(f"{path} is not a readable rosbag2 MCAP bag: {type(exc).__name__}: {exc}") from exc
    return out


def read_episode(path: str | Path, joint_names: tuple[str, ...] = JOINT_NAMES, recover: bool = True) -> Episode:
    """The Episode in a demo directory (recovering a bag whose writer died, when `recover`)."""
    return read_episode_with_times(path, joint_names, recover)[0]


def read_episode_with_times(path: str | Path, joint_names: tuple[str, ...] = JOINT_NAMES,
                            recover: bool = True) -> tuple[Episode, np.ndarray]:
    """The Episode and the bag time (ns) of each step's effort command (for trimming by time)."""
    path = Path(path)
    if not path.is_dir():
        raise DemoError(f"demo {path} does not exist (expected a rosbag2 directory)")
    if not (path / "metadata.yaml").is_file():
        if not (recover and list(path.glob("*.mcap"))):
            raise DemoError(f"{path} has no metadata.yaml: not a rosbag2 bag")
        if writer_alive(path):  # still being recorded: read a recovered copy, leave the live bag alone
            with tempfile.TemporaryDirectory(prefix="gato_demo_") as tmp:
                copy = Path(tmp) / "bag"
                _recover_to(path, copy)
                return _episode_from(path, _read_messages(copy), joint_names, _custom_data(copy))
        recover_bag(path)
    return _episode_from(path, _read_messages(path), joint_names, _custom_data(path))


def _episode_from(path: Path, m: "_Messages", joint_names: tuple[str, ...],
                  custom: dict[str, str]) -> tuple[Episode, np.ndarray]:
    """Align the messages of the demo at `path` on its effort commands."""
    if not m.commands:
        raise DemoError(f"{path} has no {COMMAND_TOPIC} messages: no timestep to read")
    if not m.images or not m.joints:
        raise DemoError(f"{path} lacks {CAMERA_TOPIC} or {JOINT_STATES_TOPIC} messages")
    img_t = np.array([t for t, _ in m.images])
    js_t = np.array([t for t, _ in m.joints])
    obj_t = np.array([t for t, _ in m.objects], dtype=np.int64)
    ext_t = np.array([t for t, _ in m.extents], dtype=np.int64)
    cart = {t: c for t, c in m.cartesian}  # written with the effort command it belongs to (same time)
    images, qs, qds, acts, times, objects, carts, extents = [], [], [], [], [], [], [], []
    for t_ns, effort in m.commands:
        i, j = np.searchsorted(img_t, t_ns, "right") - 1, np.searchsorted(js_t, t_ns, "right") - 1
        k = np.searchsorted(obj_t, t_ns, "right") - 1 if m.objects else 0
        e = np.searchsorted(ext_t, t_ns, "right") - 1 if m.extents else 0
        if i < 0 or j < 0 or k < 0 or e < 0:
            continue  # a command before the first observation has no timestep
        js = m.joints[j][1]
        try:
            q = reorder_joint_state(list(js.name), list(js.position), joint_names)
            qd = reorder_joint_state(list(js.name), list(js.velocity), joint_names)
        except JointNameError as exc:
            raise DemoError(f"{path}: {exc}") from exc
        if effort.shape != (len(joint_names),):
            raise DemoError(f"{path}: effort command of length {effort.shape[0]}, expected {len(joint_names)}")
        images.append(m.images[i][1])
        if m.objects:
            objects.append(m.objects[k][1])
        if m.extents:
            extents.append(m.extents[e][1])
        if cart:
            if t_ns not in cart or cart[t_ns].shape != (CARTESIAN_COMMAND_SIZE,):
                raise DemoError(f"{path}: effort command at {t_ns} ns has no {CARTESIAN_COMMAND_SIZE}-value "
                                f"{CARTESIAN_COMMAND_TOPIC} of the same time")
            carts.append(cart[t_ns])
        qs.append(q)
        qds.append(qd)
        acts.append(effort)
        times.append(t_ns)
    if not acts:
        raise DemoError(f"{path}: no effort command follows an image and a joint state")
    shapes = {im.shape for im in images}
    if len(shapes) != 1:
        raise DemoError(f"{path}: images change size within the episode: {sorted(shapes)}")
    success = m.outcome.get("success") if m.outcome else None
    rate = float(custom.get("control_rate_hz", 20.0))
    ep = Episode(np.stack(images), np.asarray(qs), np.asarray(qds), np.stack(acts), list(joint_names),
                 m.instruction or custom.get("instruction", ""), success, task=custom.get("task", "rgb_stacking"),
                 source=custom.get("source", "teleop"),
                 control_rate_hz=rate, camera=custom.get("camera", "basket_front_left"),
                 object_state=np.stack(objects) if objects else None,
                 cartesian_commands=np.stack(carts) if carts else None,
                 object_frame=custom.get("object_frame", "body"),
                 object_extents=np.stack(extents) if extents else None)
    return ep, np.asarray(times, dtype=np.int64)


def _custom_data(path: Path) -> dict[str, str]:
    import yaml

    try:
        meta = yaml.safe_load((path / "metadata.yaml").read_text())
        return dict(meta.get("rosbag2_bagfile_information", {}).get("custom_data") or {})
    except Exception:  # custom data is a convenience; the topics carry the same facts
        return {}


def custom_data(path: str | Path) -> dict[str, str]:
    """metadata.yaml's custom_data of a demo (instruction, source, camera, success, ...)."""
    return _custom_data(Path(path))


def read_outcome(path: str | Path) -> dict:
    """The /gato/outcome JSON of a demo ({} when the episode was never marked)."""
    return _read_messages(Path(path)).outcome


def _writer_info(path: Path) -> dict:
    """The writer sidecar of an open (or killed) bag; {} when absent or unreadable."""
    try:
        info = json.loads((path / WRITER_FILE).read_text())
        return info if isinstance(info, dict) else {}
    except (OSError, ValueError):
        return {}


def writer_alive(path: str | Path) -> bool:
    """True while the process that opened this bag with EpisodeBagWriter still runs (the bag is being recorded)."""
    try:
        pid = int(_writer_info(Path(path)).get("pid", ""))
        os.kill(pid, 0)
    except (OSError, ValueError):
        return False  # no pid file, unreadable, or no such process (ESRCH) ...
    return True  # ... or the process exists (EPERM also means it exists)


def is_bag(path: Path) -> bool:
    return path.is_dir() and ((path / "metadata.yaml").is_file() or any(path.glob("*.mcap")))


def list_episodes(root: str | Path) -> list[Path]:
    """Demo directories under `root` (itself, if it is one), sorted by name; hidden (temporary) ones are skipped."""
    root = Path(root)
    if not root.exists():
        raise DemoError(f"{root} does not exist")
    if is_bag(root):
        return [root]
    return sorted(p for p in root.iterdir() if not p.name.startswith(".") and is_bag(p))  # skip rewrite temps


# ----------------------------------------------------------------------------------------------- rewriting


def rewrite_bag(src: str | Path, dst: str | Path, keep: Callable[[str, int], bool] | None = None,
                outcome: dict | None = None, custom: dict[str, str] | None = None) -> Path:
    """Copy the demo `src` to the new bag `dst`, keeping messages where keep(topic, t_ns) holds.

    The instruction is always kept. With `outcome`, every old /gato/outcome is dropped and this one is written
    after the last message. custom_data is copied, updated with `custom`.
    """
    from rosbags.rosbag2 import Reader, StoragePlugin, Writer

    src, dst = Path(src), Path(dst)
    if writer_alive(src):
        raise DemoError(f"{src} is still being recorded (stop the recorder's episode first)")
    if not (src / "metadata.yaml").is_file():
        read_episode(src)  # raises DemoError for a missing bag, recovers a crashed one
    if dst.exists():
        raise DemoError(f"{dst} already exists")
    meta = {**_custom_data(src), **(custom or {})}
    ts = _typestore()
    last_t = 0
    try:
        with Reader(src) as reader:
            writer = Writer(dst, version=9, storage_plugin=StoragePlugin.MCAP)
            writer.open()
            conns = {c.id: writer.add_connection(c.topic, c.msgtype, typestore=ts) for c in reader.connections}
            by_topic = {c.topic: conns[c.id] for c in reader.connections}
            for conn, t_ns, raw in reader.messages():
                if outcome is not None and conn.topic == OUTCOME_TOPIC:
                    continue
                if conn.topic != INSTRUCTION_TOPIC and keep is not None and not keep(conn.topic, t_ns):
                    continue
                writer.write(conns[conn.id], t_ns, raw)
                if conn.topic != OUTCOME_TOPIC:
                    last_t = max(last_t, t_ns)
            if outcome is not None:
                conn = by_topic.get(OUTCOME_TOPIC) or writer.add_connection(OUTCOME_TOPIC, TYPES[OUTCOME_TOPIC],
                                                                            typestore=ts)
                msg = ts.types["std_msgs/msg/String"](data=json.dumps(outcome))
                writer.write(conn, last_t + 1, ts.serialize_cdr(msg, TYPES[OUTCOME_TOPIC]))
                meta["success"] = json.dumps(outcome.get("success"))
            for key, value in meta.items():
                writer.set_custom_data(key, str(value))
            writer.close()
    except DemoError:
        raise
    except Exception as exc:
        shutil.rmtree(dst, ignore_errors=True)
        raise DemoError(f"cannot rewrite {src}: {type(exc).__name__}: {exc}") from exc
    return dst


def replace_bag(path: str | Path, keep: Callable[[str, int], bool] | None = None, outcome: dict | None = None,
                custom: dict[str, str] | None = None) -> Path:
    """Rewrite the demo at `path` in place (via a sibling temporary bag, swapped in when complete)."""
    path = Path(path)
    tmp = path.parent / f".{path.name}.new"
    old = path.parent / f".{path.name}.old"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(old, ignore_errors=True)
    rewrite_bag(path, tmp, keep, outcome, custom)
    tmp_mcap = tmp / (tmp.name + ".mcap")
    if tmp_mcap.exists():  # name the storage file after the final directory, as a recorder would
        tmp_mcap.rename(tmp / (path.name + ".mcap"))
        _fix_file_paths(tmp, path.name)
    path.rename(old)
    tmp.rename(path)
    shutil.rmtree(old, ignore_errors=True)
    return path


# ----------------------------------------------------------------------------------------------- recovery


def _complete_prefix(data: bytes) -> int:
    """Length of the MCAP prefix made of complete top-level records (magic, then op u8 + len u64 + body)."""
    if not data.startswith(MCAP_MAGIC):
        raise DemoError("file is not MCAP (bad magic)")
    pos = len(MCAP_MAGIC)
    while pos + 9 <= len(data):
        op = data[pos]
        (length,) = struct.unpack_from("<Q", data, pos + 1)
        end = pos + 9 + length
        if end > len(data) or op in (0x02, 0x0F):  # truncated record, or footer/data-end: stop before it
            break
        pos = end
    return pos


def recover_bag(path: str | Path) -> Path:
    """Rewrite a bag whose writer was killed (no metadata.yaml, no MCAP footer) as a complete bag in place."""
    path = Path(path)
    if writer_alive(path):
        raise DemoError(f"{path} is still being recorded; it is not recovered in place")
    files = sorted(path.glob("*.mcap"))
    out = path.parent / f".{path.name}.rewritten"
    shutil.rmtree(out, ignore_errors=True)
    _recover_to(path, out)
    for f in files:
        f.rename(path / (f.name + ".crashed"))
    for f in out.iterdir():
        target = path / (path.name + ".mcap" if f.suffix == ".mcap" else f.name)
        f.rename(target)
    out.rmdir()
    (path / WRITER_FILE).unlink(missing_ok=True)
    _fix_file_paths(path)
    return path


def _recover_to(path: Path, out: Path) -> None:
    """Write the complete records of the footerless MCAP in `path` as a new complete bag `out`."""
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.rosbag2.storage_mcap import McapReader

    files = sorted(path.glob("*.mcap"))
    if not files:
        raise DemoError(f"{path}: nothing to recover (no .mcap file)")
    raw = files[0].read_bytes()
    keep = _complete_prefix(raw)
    fixed = Path(tempfile.mkdtemp(prefix=f".{path.name}.recovering", dir=out.parent))
    body = raw[:keep] + bytes([0x0F]) + struct.pack("<QI", 4, 0) + bytes([0x02]) + struct.pack("<QQQI", 20, 0, 0, 0) \
        + MCAP_MAGIC
    (fixed / "recovered.mcap").write_bytes(body)
    reader = McapReader(fixed / "recovered.mcap")
    try:
        reader.open()
        writer = Writer(out, version=9, storage_plugin=StoragePlugin.MCAP)
        writer.open()
        ts = _typestore()
        conns = {c.id: writer.add_connection(c.topic, c.msgtype, typestore=ts) for c in reader.connections}
        for conn, t_ns, data in reader.messages(reader.connections):
            writer.write(conns[conn.id], t_ns, data)
        for key, value in (_writer_info(path).get("custom_data") or {}).items():
            writer.set_custom_data(str(key), str(value))
        writer.set_custom_data("recovered", "true")
        writer.close()
    except Exception as exc:
        shutil.rmtree(out, ignore_errors=True)
        raise DemoError(f"{path}: cannot recover the MCAP file: {type(exc).__name__}: {exc}") from exc
    finally:
        reader.close()
        shutil.rmtree(fixed, ignore_errors=True)


def _fix_file_paths(path: Path, stem: str | None = None) -> None:
    """metadata.yaml names the storage file; after moving it in place, point it at the new name."""
    import yaml

    meta_path = path / "metadata.yaml"
    meta = yaml.safe_load(meta_path.read_text())
    info = meta["rosbag2_bagfile_information"]
    name = (stem or path.name) + ".mcap"
    info["relative_file_paths"] = [name]
    for f in info.get("files", []):
        f["path"] = name
    meta_path.write_text(yaml.safe_dump(meta, sort_keys=False))
