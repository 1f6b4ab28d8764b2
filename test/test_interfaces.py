"""gato_ros.interfaces: the one image decoder, QoS as data, and one preprocessing path from camera to tokens."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from gato_ros.config import default_config
from gato_ros.demos.bag import EpisodeBagWriter, read_episode
from gato_ros.interfaces import (
    COMMAND_INTAKE_QOS, JOINT_NAMES, LATCHED_QOS, PROPRIO_SIZE, SENSOR_QOS, ImageFormatError, image_msg_to_rgb,
)
from gato_ros.observation import proprio_from_joints
from gato_ros.tokenizer import GatoTokenizer, Modality


def _frame(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def _msg(img: np.ndarray, encoding: str = "rgb8", pad: int = 0) -> SimpleNamespace:
    h, w, _ = img.shape
    rows = np.zeros((h, 3 * w + pad), np.uint8)
    rows[:, :3 * w] = (img[:, :, ::-1] if encoding == "bgr8" else img).reshape(h, 3 * w)
    return SimpleNamespace(encoding=encoding, height=h, width=w, step=3 * w + pad, data=rows.tobytes())


def test_rgb8_keeps_pixels_and_size() -> None:
    img = _frame(48, 80)
    out = image_msg_to_rgb(_msg(img))
    np.testing.assert_array_equal(out, img)
    assert out.flags.c_contiguous and out.flags.writeable  # a copy, not a view on the message buffer


def test_bgr8_is_swapped_and_row_padding_dropped() -> None:
    img = _frame(4, 5)
    np.testing.assert_array_equal(image_msg_to_rgb(_msg(img, "bgr8", pad=5)), img)


@pytest.mark.parametrize("encoding,h,w,step,nbytes,match", [
    ("mono8", 4, 4, 12, 48, "encoding"),
    ("rgb8", 4, 4, 12, 47, "bytes"),
    ("rgb8", 4, 4, 8, 32, "step"),
    ("rgb8", 0, 4, 12, 0, "no pixels"),
])
def test_malformed_images_raise_clear_errors(encoding, h, w, step, nbytes, match) -> None:
    with pytest.raises(ImageFormatError, match=match):
        image_msg_to_rgb(SimpleNamespace(encoding=encoding, height=h, width=w, step=step, data=bytes(nbytes)))


def test_qos_profiles_are_data_until_built() -> None:
    from rclpy.qos import DurabilityPolicy, ReliabilityPolicy, qos_profile_sensor_data

    sensor = SENSOR_QOS.profile()
    assert (sensor.depth, sensor.reliability, sensor.durability) == (
        qos_profile_sensor_data.depth, qos_profile_sensor_data.reliability, qos_profile_sensor_data.durability)
    assert LATCHED_QOS.profile().durability == DurabilityPolicy.TRANSIENT_LOCAL
    assert COMMAND_INTAKE_QOS.profile().reliability == ReliabilityPolicy.BEST_EFFORT


def test_a_640x480_camera_gives_the_same_tokens_on_the_robot_and_in_training(tmp_path: Path) -> None:
    """One preprocessing path: the agent (message -> policy tokenizer) and training (recorder -> bag -> episode
    tokens) see the same centre-cropped, resized pixels of a 640x480 frame."""
    frame = _frame(480, 640, seed=1)
    msg = _msg(frame, "bgr8")
    tok = GatoTokenizer(default_config())
    q, qd = np.linspace(-1, 1, len(JOINT_NAMES)), np.linspace(0.5, -0.5, len(JOINT_NAMES))
    proprio = proprio_from_joints(q, qd)
    assert proprio.shape == (PROPRIO_SIZE,)

    robot = tok.observation(image_msg_to_rgb(msg), proprio)  # what GatoPolicy.act tokenizes for the agent node

    with EpisodeBagWriter(tmp_path / "ep") as writer:  # what the recorder node writes from the same message
        writer.image(image_msg_to_rgb(msg), 1_000_000)
        writer.joint_state(list(JOINT_NAMES), q, qd, None, 1_000_000)
        writer.command(np.zeros(len(JOINT_NAMES)), 1_000_001)
    ep = read_episode(tmp_path / "ep")
    assert ep.images.shape == (1, 480, 640, 3)  # stored at the camera's size
    training = tok.episode(ep)
    training = training[:len(robot)]  # the observation block of step 0

    assert (robot.modality == int(Modality.IMAGE)).sum() == default_config().tokenizer.num_patches
    for field in ("tokens", "modality", "local_pos", "patches", "patch_pos"):
        np.testing.assert_array_equal(getattr(robot, field), getattr(training, field), err_msg=field)
