"""When the agent acts (FrameGate), where its steps run (InferenceWorker), stamp latency and stamped commands."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from gato_ros.agent import AgentConfig, AgentConfigError
from gato_ros.agent.scheduling import FrameGate, InferenceWorker
from gato_ros.interfaces import command_stamp_ns, effort_command
from gato_ros.latency import MAX_STAMP_LATENCY_S, LatencyStats, StampLatency, stamp_latency_s


@pytest.mark.parametrize("camera_hz,expected_hz", [(20, 20), (30, 20), (60, 20), (10, 10)])
def test_frame_gate_acts_at_most_at_the_control_rate(camera_hz: int, expected_hz: int) -> None:
    gate = FrameGate(0.05)
    admitted = sum(gate.admit(i / camera_hz) for i in range(10 * camera_hz))
    assert admitted == pytest.approx(10 * expected_hz, abs=1)
    assert gate.dropped == 10 * camera_hz - admitted


def test_frame_gate_passes_every_jittered_frame_at_the_control_rate_and_restarts_after_a_gap() -> None:
    rng = np.random.default_rng(0)
    times = np.arange(200) * 0.05 + rng.uniform(-0.01, 0.01, 200)  # 20 Hz camera, +-10 ms arrival jitter
    gate = FrameGate(0.05)
    assert all(gate.admit(float(t)) for t in np.sort(times))
    assert gate.admit(100.0) and not gate.admit(100.02) and gate.admit(100.05)  # after a pause: a new grid
    gate.reset()
    assert gate.admit(100.06)


def test_worker_runs_off_the_caller_thread_skips_while_busy_and_counts_overruns() -> None:
    release = threading.Event()
    seen: list[tuple[int, str]] = []

    def step(job: int) -> None:
        seen.append((job, threading.current_thread().name))
        release.wait(5.0)

    worker = InferenceWorker(step, name="test_inference")
    try:
        assert worker.submit(1)
        t0 = time.monotonic()
        assert not worker.submit(2) and not worker.submit(3)  # busy: refused at once, never queued
        assert time.monotonic() - t0 < 0.5 and worker.overruns == 2 and worker.busy
        release.set()
        assert worker.wait_idle(5.0)
        assert worker.submit(4) and worker.wait_idle(5.0)
        assert seen == [(1, "test_inference"), (4, "test_inference")] and worker.completed == 2
    finally:
        release.set()
        assert worker.stop(5.0)
    assert not worker.submit(5)  # stopped: refused, not an overrun
    assert worker.overruns == 2


def test_worker_survives_a_failing_step() -> None:
    def step(job: int) -> None:
        if job == 1:
            raise RuntimeError("boom")

    worker = InferenceWorker(step)
    try:
        assert worker.submit(1) and worker.wait_idle(5.0)
        assert worker.errors == 1 and "boom" in worker.last_error
        assert worker.submit(2) and worker.wait_idle(5.0) and worker.completed == 1
    finally:
        worker.stop(5.0)


def test_stamp_latency_refuses_other_clocks() -> None:
    now = 1_700_000_000 * 10**9
    assert stamp_latency_s(now, now - 12_000_000) == pytest.approx(0.012)
    assert stamp_latency_s(now, now + 1_000_000) == 0.0  # a hair in the future: same host, counts as 0
    assert stamp_latency_s(now, now + 100_000_000) is None
    assert stamp_latency_s(now, 5 * 10**9) is None  # sim time against the system clock
    assert stamp_latency_s(now, now - int((MAX_STAMP_LATENCY_S + 1) * 1e9)) is None
    assert stamp_latency_s(now, 0) is None
    lat = StampLatency(window=10)
    for ms in (10, 20, 30):
        lat.record(now, now - ms * 1_000_000)
    lat.record(now, 5 * 10**9)
    summary = lat.summary()
    assert summary["count"] == 3 and summary["other_clock"] == 1 and summary["p50_ms"] == pytest.approx(20.0)


def test_latency_stats_without_deadline() -> None:
    stats = LatencyStats(None)
    stats.record(1.0)
    assert stats.misses == 0 and "deadline_ms" not in stats.summary()


def test_effort_command_carries_its_stamp_in_the_layout() -> None:
    msg = effort_command(np.arange(8.0), 1_700_000_000_123_456_789)
    assert list(msg.data) == list(np.arange(8.0))
    assert command_stamp_ns(msg) == 1_700_000_000_123_456_789
    assert [d.size for d in msg.layout.dim] == [8, 1]  # an 8 x 1 array: the data is the same 8 efforts
    assert command_stamp_ns(effort_command(np.zeros(8))) is None
    bad = effort_command(np.zeros(8), 5)
    bad.layout.dim[1].label = "stamp_ns=soon"
    assert command_stamp_ns(bad) is None


def test_trigger_config() -> None:
    assert AgentConfig().trigger == "image" and AgentConfig(trigger="timer").trigger == "timer"
    with pytest.raises(AgentConfigError, match="trigger"):
        AgentConfig(trigger="camera")
