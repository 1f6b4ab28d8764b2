"""`gato-ros bench --graph`: the graph runs, the safety node's latency samples are read and summarised."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gato_ros.bench.graph import GraphBenchOptions, run_graph_bench


def test_unknown_trigger_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="triggers"):
        run_graph_bench(GraphBenchOptions(triggers=("camera",), out_dir=tmp_path))


@pytest.mark.slow
@pytest.mark.ros
def test_graph_bench_writes_image_to_output_latency(tiny_model: Path, ros_env: dict[str, str],
                                                     tmp_path: Path) -> None:
    from gato_ros.cli import main

    assert main(["bench", "--graph", "--model", str(tiny_model), "--seconds", "4", "--triggers", "image",
                 "--out", str(tmp_path)]) == 0
    run = json.loads((tmp_path / "graph_latency.json").read_text())["runs"]["image"]
    stats = run["image_to_output"]
    assert stats["n"] >= 20 and len(run["samples_ms"]) == stats["n"]
    assert 0 < stats["p50_ms"] <= stats["p99_ms"] < 1000
    assert run["safety"]["image_to_output_other_clock"] == 0 and run["safety"]["image_to_output_count"] >= stats["n"]
    assert run["agent"]["published"] > 0 and (tmp_path / "graph_latency.png").stat().st_size > 10_000
