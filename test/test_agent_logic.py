"""Pure logic of the agent: staleness, episode clock, latency stats, config, model lookup."""

from __future__ import annotations

import json
import math

import pytest

from gato_ros.agent import (
    AgentConfig, AgentConfigError, EpisodeClock, InputAge, LatencyStats, ModelDirError, resolve_model_dir, stale_reason,
)
from gato_ros.paths import config_dir


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
