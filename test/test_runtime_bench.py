"""`gato-ros bench` machinery on the tiny config: JSON, histogram, bounds and ratios are filled in from measurements."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gato_ros.bench.bandwidth import (  # noqa: E402
    measure_bandwidth, measure_gemm_flops, pass_flops, roofline_step_s, step_bound_s, streamed_weight_bytes,
)
from gato_ros.bench.latency import VARIANTS, StepClock, percentiles, summary_table  # noqa: E402


def test_percentiles_and_bound() -> None:
    stats = percentiles([0.001 * i for i in range(1, 101)])
    assert stats["p50_ms"] == pytest.approx(50.5) and stats["p99_ms"] == pytest.approx(99.01) and stats["n"] == 100
    assert step_bound_s(100, 10, 1000, 8, 1e6) == pytest.approx(8 * (100 + 10_000) / 1e6)
    assert measure_bandwidth(mbytes=16, repeats=2) > 1e8  # any machine copies more than 100 MB/s
    assert measure_gemm_flops(n=256, repeats=2) > 1e8 and measure_gemm_flops(int8=True, n=256, repeats=2) > 1e8


def test_step_clock_fills_once_then_times_one_step_per_call() -> None:
    """Filling steps run before timing (until fill() is true), on_full once, then one timed step per call."""
    calls: list[str] = []
    filled = iter([False, False, True])
    clock = StepClock(lambda image, proprio: calls.append(f"step {image.shape}"), lambda: next(filled), (8, 4),
                      fill_step=lambda image, proprio: calls.append("fill"), on_full=lambda: calls.append("full"))
    assert calls == ["fill", "fill", "full"]
    assert all(clock() >= 0 for _ in range(3)) and calls[3:] == ["step (8, 4, 3)"] * 3


def test_roofline_counts_prefill_flops() -> None:
    """A decode pass is bandwidth-bound and a 33-token prefill of the 79m config compute-bound on a 2-core CPU."""
    from gato_ros.model.gato import CONFIGS

    c = CONFIGS["79m"]
    linear, other = pass_flops(c, 33, 16, 1024)
    assert linear == pytest.approx(2 * (33 * 8 * (4 * 768 * 768 + 2 * 768 * 3072) + 768 * 1024))
    assert 0.5e9 < other < 3e9  # attention over 1024 cached tokens + 16 ResNet patches
    bw, flops, w, kv = 30e9, 150e9, 230e6, 49152
    decode_s = (w + kv * 1024) / bw
    step = roofline_step_s(c, w, kv, 1024, 33, 16, bw, flops, flops, decodes=7)
    assert step == pytest.approx(7 * decode_s + (linear + other) / flops)
    assert step > step_bound_s(w, kv, 1024, 8, bw)


def test_streamed_weights_skip_embedding_table(tmp_path: Path) -> None:
    import onnx
    from onnx import numpy_helper

    from gato_ros.export.build import export_random

    out = export_random("tiny", tmp_path / "m")
    model = onnx.load(str(out / "decode.onnx"))
    total = sum(numpy_helper.to_array(i).nbytes for i in model.graph.initializer)
    streamed = streamed_weight_bytes(out / "decode.onnx")
    assert 0 < streamed < total


def test_bench_cli_writes_results(tmp_path: Path) -> None:
    from gato_ros.cli import main

    assert main(["bench", "--configs", "tiny", "--reps", "3", "--naive-reps", "1", "--context", "256",
                 "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "bench.json").read_text())
    rec = results["conditions"]["no_sim"]["tiny"]
    assert set(rec["variants"]) == set(VARIANTS)
    assert rec["interleaved"] == sorted(set(VARIANTS) - {"torch_naive"})  # took turns step by step
    assert rec["bound_ms_fp32"] > rec["bound_ms_int8"] > rec["bound_ms_int4"] > 0  # fewer weight bytes per decode
    for key in ("fp32", "int8", "int4"):
        assert rec[f"roofline_ms_{key}"] >= rec[f"bound_ms_{key}"]
    for v, s in rec["variants"].items():
        assert 0 < s["p50_ms"] <= s["p90_ms"] <= s["p99_ms"] and len(s["samples_ms"]) == s["n"]
        assert s["ratio_to_bound_p50"] > 0 and s["ratio_to_roofline_p50"] > 0
    assert rec["variants"]["torch_naive"]["speedup_vs_naive_p50"] == pytest.approx(1.0)
    step = rec["prefill_block"]["tokens"] - 1 + 8  # observation block + 8 action tokens
    assert rec["band_timesteps"] == 255 // step - 1 > 0  # the banded variants: as many timesteps as 256 tokens hold
    assert all(rec["variants"][f"ort_{p}_band"]["reprefills"] == 0 for p in ("fp32", "int8", "int4"))
    assert (tmp_path / "bench_latency.png").stat().st_size > 10_000
    assert "| no_sim | tiny | ort_fp32 |" in summary_table(results)


def test_peer_step_is_the_same_shape_at_a_full_context() -> None:
    """The peer: GPT-2 of the config's shape; each step is the block + decodes and leaves the cache as it found it."""
    pytest.importorskip("transformers")
    from gato_ros.bench.peer import PeerGPT2
    from gato_ros.model.gato import CONFIGS, param_count

    c = CONFIGS["tiny"]
    peer = PeerGPT2(c, context=256, block=33, decodes=7)
    assert peer.cache.get_seq_length() == 256 - 33 - 7
    for _ in range(2):
        ids = peer.act()
        assert ids.shape == (8,) and peer.cache.get_seq_length() == 256 - 33 - 7
    # GPT-2 has no patch encoder and learned positions over 256 here: the blocks and embeddings match otherwise
    assert abs(peer.params - param_count(c)) / param_count(c) < 0.2


def test_bench_cli_peer(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    from gato_ros.bench.peer import PEER_VARIANT
    from gato_ros.cli import main

    assert main(["bench", "--configs", "tiny", "--variants", "ort_fp32", "--reps", "3", "--context", "256",
                 "--peer", "--out", str(tmp_path)]) == 0
    rec = json.loads((tmp_path / "bench.json").read_text())["conditions"]["no_sim"]["tiny"]
    assert set(rec["variants"]) == {"ort_fp32", PEER_VARIANT} and rec["peer"]["params"] > 0
    assert rec["variants"]["ort_fp32"]["speedup_vs_peer_p50"] > 0
    assert rec["variants"][PEER_VARIANT]["speedup_vs_peer_p50"] == pytest.approx(1.0)
