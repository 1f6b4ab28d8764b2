"""`gato-ros bench --graph`: the graph runs, the safety node's latency samples are read and summarised."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import yaml

from gato_ros.bench.graph import GraphBenchOptions, _config_dir, run_graph_bench, run_key


def test_unknown_trigger_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="triggers"):
        run_graph_bench(GraphBenchOptions(triggers=("camera",), out_dir=tmp_path))
    with pytest.raises(ValueError, match="wake_on_command"):
        run_graph_bench(GraphBenchOptions(wake_on_command=(True, True), out_dir=tmp_path))


def test_runs_set_the_trigger_and_the_safety_wake(tmp_path: Path) -> None:
    """Each run's parameter files: the agent's trigger and the safety node's wake_on_command, nothing else changed."""
    from gato_ros import paths

    folder = _config_dir(tmp_path / "x", "timer", False)
    agent = yaml.safe_load((folder / "agent.yaml").read_text())["agent"]["ros__parameters"]
    safety = yaml.safe_load((folder / "safety.yaml").read_text())["safety"]["ros__parameters"]
    shipped = yaml.safe_load((paths.config_dir() / "safety.yaml").read_text())["safety"]["ros__parameters"]
    assert agent["trigger"] == "timer" and safety == {**shipped, "wake_on_command": False}
    assert shipped["wake_on_command"] is True
    assert (run_key("image", True), run_key("image", False)) == ("image", "image_wake_off")


@pytest.mark.slow
@pytest.mark.ros
def test_graph_bench_writes_image_to_output_latency(tiny_model: Path, ros_env: dict[str, str],
                                                     tmp_path: Path) -> None:
    from gato_ros.cli import main

    assert main(["bench", "--graph", "--model", str(tiny_model), "--seconds", "4", "--triggers", "image",
                 "--episode-seconds", "1.5", "--out", str(tmp_path)]) == 0
    run = json.loads((tmp_path / "graph_latency.json").read_text())["runs"]["image"]
    assert run["safety_wake_on_command"] is True and run["safety"]["woken_ticks"] > 0
    stats = run["image_to_output"]
    assert stats["n"] >= 20 and len(run["samples_ms"]) == stats["n"]
    assert 0 < stats["p50_ms"] <= stats["p99_ms"] < 1000
    assert run["safety"]["image_to_output_other_clock"] == 0 and run["safety"]["image_to_output_count"] >= stats["n"]
    assert run["agent"]["published"] > 0 and (tmp_path / "graph_latency.png").stat().st_size > 10_000
    assert run["episodes"] >= 4 and run["successes"] == 0  # untrained: 1.5 s episodes back to back fill 5 s + 4 s
