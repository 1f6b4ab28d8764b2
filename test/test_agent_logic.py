"""Pure logic of the agent: image conversion, staleness, episode clock, latency stats, config, model lookup."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from gato_ros.agent import (
    AgentConfig, AgentConfigError, EpisodeClock, ImageFormatError, InputAge, LatencyStats, ModelDirError,
    image_to_rgb, resolve_model_dir, stale_reason,
)
from gato_ros.paths import config_dir


def _frame(h: int, w: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def test_rgb8_same_size_is_identity() -> None:
    img = _frame(64, 64)
    out = image_to_rgb("rgb8", 64, 64, 64 * 3, img.tobytes(), (64, 64))
    np.testing.assert_array_equal(out, img)


def test_bgr8_is_swapped_to_rgb() -> None:
    img = _frame(8, 10)
    out = image_to_rgb("bgr8", 8, 10, 30, img[:, :, ::-1].tobytes(), (8, 10))
    np.testing.assert_array_equal(out, img)


def test_row_padding_is_dropped() -> None:
    img = _frame(4, 5)
    padded = np.zeros((4, 20), np.uint8)
    padded[:, :15] = img.reshape(4, 15)
    out = image_to_rgb("rgb8", 4, 5, 20, padded.tobytes(), (4, 5))
    np.testing.assert_array_equal(out, img)


def test_resize_to_model_size_keeps_uniform_colour() -> None:
    img = np.full((120, 160, 3), (200, 10, 30), np.uint8)
    out = image_to_rgb("rgb8", 120, 160, 480, img.tobytes(), (64, 80))
    assert out.shape == (64, 80, 3) and out.dtype == np.uint8
    assert np.all(out == np.array([200, 10, 30], np.uint8))


def test_resize_halves_a_block_pattern() -> None:
    img = np.zeros((4, 4, 3), np.uint8)
    img[:2, :2] = 255  # top-left block white
    out = image_to_rgb("rgb8", 4, 4, 12, img.tobytes(), (2, 2))
    assert out[0, 0].tolist() == [255, 255, 255] and out[1, 1].tolist() == [0, 0, 0]


@pytest.mark.parametrize("encoding,h,w,step,nbytes,match", [
    ("mono8", 4, 4, 12, 48, "encoding"),
    ("rgb8", 4, 4, 12, 47, "bytes"),
    ("rgb8", 4, 4, 8, 32, "step"),
    ("rgb8", 0, 4, 12, 0, "no pixels"),
])
def test_malformed_images_raise_clear_errors(encoding, h, w, step, nbytes, match) -> None:
    with pytest.raises(ImageFormatError, match=match):
        image_to_rgb(encoding, h, w, step, bytes(nbytes), (4, 4))


def test_stale_reason() -> None:
    assert stale_reason(10.0, InputAge(None, None), 0.5, 0.25) == "no image received yet; no joint state received yet"
    assert stale_reason(10.0, InputAge(9.9, 9.9), 0.5, 0.25) is None
    reason = stale_reason(10.0, InputAge(9.0, 9.9), 0.5, 0.25)
    assert reason is not None and reason.startswith("image stale (1.000 s old")
    assert "joint state stale" in stale_reason(10.0, InputAge(9.9, 9.7), 0.5, 0.25)


def test_episode_clock_detects_backwards_jump_only() -> None:
    clock = EpisodeClock(tolerance_s=0.5)
    assert [clock.observe(t) for t in (1.0, 1.05, 1.0, 5.0, 0.1, 0.15)] == [False, False, False, False, True, False]


def test_latency_stats() -> None:
    stats = LatencyStats(deadline_s=0.05, window=100)
    assert math.isnan(stats.p50)
    for i in range(1, 101):
        stats.record(i / 1000.0)  # 1..100 ms
    assert stats.p50 == pytest.approx(0.0505)
    assert stats.p99 == pytest.approx(0.09901)
    assert stats.misses == 50 and stats.count == 100
    stats.record(0.001)  # window slides, miss count is all-time
    assert stats.count == 101 and stats.misses == 50
    summary = stats.summary()
    assert summary["deadline_ms"] == pytest.approx(50.0) and summary["deadline_misses"] == 50


def test_agent_config_validation() -> None:
    assert AgentConfig().period_s == pytest.approx(0.05)
    with pytest.raises(AgentConfigError, match="joint_names"):
        AgentConfig(joint_names=("a", "b"))
    with pytest.raises(AgentConfigError, match="execution_provider"):
        AgentConfig(execution_provider="tpu")
    with pytest.raises(AgentConfigError, match="control_rate_hz"):
        AgentConfig(control_rate_hz=0.0)


def test_agent_yaml_matches_dataclass() -> None:
    from gato_ros.nodes.common import config_from_params_file, load_ros_params

    params = load_ros_params(config_dir() / "agent.yaml", "agent")
    cfg = config_from_params_file(AgentConfig, config_dir() / "agent.yaml", "agent")
    assert set(params) == {f for f in AgentConfig.__dataclass_fields__}  # every field, no stray keys
    assert cfg.control_rate_hz == 20.0 and cfg.joint_names == AgentConfig().joint_names


def test_resolve_model_dir(tmp_path) -> None:
    with pytest.raises(ModelDirError, match="holds 0 models"):
        resolve_model_dir("", tmp_path)
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "gato.json").write_text(json.dumps({}))
    assert resolve_model_dir("", tmp_path) == tmp_path / "a"
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "gato.json").write_text("{}")
    with pytest.raises(ModelDirError, match="holds 2 models"):
        resolve_model_dir("", tmp_path)
    (tmp_path / "default").mkdir()
    (tmp_path / "default" / "gato.json").write_text("{}")
    assert resolve_model_dir("", tmp_path) == tmp_path / "default"
    assert resolve_model_dir(str(tmp_path / "b"), tmp_path) == tmp_path / "b"
    with pytest.raises(ModelDirError, match="no gato.json"):
        resolve_model_dir(str(tmp_path), tmp_path)
