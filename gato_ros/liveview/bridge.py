"""FoxgloveBridge: a Foxglove WebSocket server (the `foxglove-sdk` package) and the channels of the live view.

The foxglove node feeds it from ROS topics; it knows nothing of ROS. Channels with a ROS topic's name carry that
topic's data (camera as foxglove.RawImage, the rest as JSON with a JSON schema); the others are derived
(gato_ros.liveview.channels). `wanted(topic)` tells whether a client subscribes, so no work is done for nobody.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from gato_ros.interfaces import (
    ACTION_DISTRIBUTION_TOPIC, CAMERA_TOPIC, COMMAND_TOPIC, EFFORT_OUTPUT_TOPIC, JOINT_STATES_TOPIC,
)
from gato_ros.liveview.channels import (
    AGENT_CHANNEL, EPISODE_CHANNEL, OBJECTS_CHANNEL, SAFETY_CHANNEL, TF_CHANNEL, WORLD_FRAME, Transform, object_boxes,
)

_NUMBERS = {"type": "array", "items": {"type": "number"}}
_NAMES = {"type": "array", "items": {"type": "string"}}
_NUMBER = {"type": ["number", "null"]}
_INTEGER = {"type": ["integer", "null"]}
_STRING = {"type": "string"}
_BOOL = {"type": "boolean"}
OBJECT_SIZE_M = 0.05  # cube edge drawn for each object (the RGB objects are about this size)
OBJECT_RGBA = {"red": (0.9, 0.1, 0.1, 1.0), "green": (0.1, 0.7, 0.2, 1.0), "blue": (0.1, 0.3, 0.9, 1.0)}


def _schema(title: str, **properties: dict) -> dict:
    return {"type": "object", "title": title, "properties": properties}


#: JSON channels: topic -> JSON schema (the names plots and the shipped layout refer to).
JSON_CHANNELS: dict[str, dict] = {
    JOINT_STATES_TOPIC: _schema("gato_ros.JointState", name=_NAMES, position=_NUMBERS, velocity=_NUMBERS,
                                effort=_NUMBERS),
    COMMAND_TOPIC: _schema("gato_ros.Efforts", name=_NAMES, effort=_NUMBERS),
    EFFORT_OUTPUT_TOPIC: _schema("gato_ros.Efforts", name=_NAMES, effort=_NUMBERS),
    SAFETY_CHANNEL: _schema("gato_ros.Safety", mode=_STRING, mode_index=_INTEGER, reason=_STRING,
                            interventions=_INTEGER, publish_rate_hz=_NUMBER, message=_STRING),
    AGENT_CHANNEL: _schema("gato_ros.Agent", state=_STRING, p50_ms=_NUMBER, p99_ms=_NUMBER,
                           deadline_misses=_INTEGER, published=_INTEGER, skipped=_INTEGER, context_fill=_NUMBER,
                           command_rate_hz=_NUMBER, model=_STRING),
    ACTION_DISTRIBUTION_TOPIC: _schema("gato_ros.ActionDistribution", joints={"type": "array", "items": _schema(
        "gato_ros.JointDistribution", name=_STRING, effort=_NUMBERS, prob=_NUMBERS, expected=_NUMBER,
        max_prob=_NUMBER)}),
    EPISODE_CHANNEL: _schema("gato_ros.Episode", episode=_INTEGER, seed=_INTEGER, stage=_STRING,
                             stage_index=_INTEGER, success=_BOOL, episode_time_s=_NUMBER, message=_STRING),
}


def _timestamp(t_ns: int) -> Any:
    from foxglove.messages import Timestamp

    return Timestamp(sec=int(t_ns // 1_000_000_000), nsec=int(t_ns % 1_000_000_000))


class FoxgloveBridge:
    """The server and its channels; `close()` stops the server. Port 0 picks a free port (see `.port`)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 8765, name: str = "gato_ros") -> None:
        import foxglove
        from foxglove.channels import FrameTransformsChannel, RawImageChannel, SceneUpdateChannel

        self.context = foxglove.Context()
        self.json = {topic: foxglove.Channel(topic, schema=schema, context=self.context)
                     for topic, schema in JSON_CHANNELS.items()}
        self.image_channel = RawImageChannel(CAMERA_TOPIC, context=self.context)
        self.tf_channel = FrameTransformsChannel(TF_CHANNEL, context=self.context)
        self.objects_channel = SceneUpdateChannel(OBJECTS_CHANNEL, context=self.context)
        self.server = foxglove.start_server(name=name, host=host, port=port, context=self.context)
        self.port = int(self.server.port)
        self.counts = {topic: 0 for topic in self.topics}
        self._channels = {**self.json, CAMERA_TOPIC: self.image_channel, TF_CHANNEL: self.tf_channel,
                          OBJECTS_CHANNEL: self.objects_channel}

    def wanted(self, topic: str) -> bool:
        """True while a client subscribes to `topic`: callers skip building messages nobody receives."""
        return self._channels[topic].has_sinks()

    @property
    def topics(self) -> list[str]:
        """Every channel this bridge advertises."""
        return [*self.json, CAMERA_TOPIC, TF_CHANNEL, OBJECTS_CHANNEL]

    def log_json(self, topic: str, payload: dict, t_ns: int) -> None:
        """One JSON message on a channel of JSON_CHANNELS."""
        self.json[topic].log(payload, log_time=int(t_ns))
        self.counts[topic] += 1

    def image(self, width: int, height: int, encoding: str, step: int, data: bytes, t_ns: int,
              frame_id: str = "camera") -> None:
        """A camera frame as received (rgb8/bgr8 with its row step): Foxglove decodes it, no copy here."""
        from foxglove.messages import RawImage

        self.image_channel.log(RawImage(timestamp=_timestamp(t_ns), frame_id=frame_id, width=width, height=height,
                                        encoding=encoding, step=step, data=bytes(data)), log_time=int(t_ns))
        self.counts[CAMERA_TOPIC] += 1

    def transforms(self, transforms: Sequence[Transform], t_ns: int) -> None:
        """Frame transforms (arm links, the base in the world) for the 3D panel."""
        from foxglove.messages import FrameTransform, FrameTransforms, Quaternion, Vector3

        stamp = _timestamp(t_ns)
        msg = FrameTransforms(transforms=[
            FrameTransform(timestamp=stamp, parent_frame_id=tf.parent, child_frame_id=tf.child,
                           translation=Vector3(x=tf.translation[0], y=tf.translation[1], z=tf.translation[2]),
                           rotation=Quaternion(x=tf.rotation[0], y=tf.rotation[1], z=tf.rotation[2], w=tf.rotation[3]))
            for tf in transforms])
        self.tf_channel.log(msg, log_time=int(t_ns))
        self.counts[TF_CHANNEL] += 1

    def objects(self, object_state: np.ndarray, t_ns: int) -> None:
        """The red, green and blue objects as cubes in the world frame (sim only: /sim/object_poses)."""
        from foxglove.messages import Color, CubePrimitive, Pose, Quaternion, SceneEntity, SceneUpdate, Vector3

        stamp = _timestamp(t_ns)
        entities = []
        for color, xyz, q in object_boxes(object_state):
            pose = Pose(position=Vector3(x=xyz[0], y=xyz[1], z=xyz[2]), orientation=Quaternion(x=q[0], y=q[1], z=q[2],
                                                                                                 w=q[3]))
            r, g, b, a = OBJECT_RGBA.get(color, (0.5, 0.5, 0.5, 1.0))
            cube = CubePrimitive(pose=pose, size=Vector3(x=OBJECT_SIZE_M, y=OBJECT_SIZE_M, z=OBJECT_SIZE_M),
                                 color=Color(r=r, g=g, b=b, a=a))
            entities.append(SceneEntity(timestamp=stamp, frame_id=WORLD_FRAME, id=color, cubes=[cube]))
        self.objects_channel.log(SceneUpdate(entities=entities), log_time=int(t_ns))
        self.counts[OBJECTS_CHANNEL] += 1

    def close(self) -> None:
        self.server.stop()
