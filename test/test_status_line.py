"""The terminal status line: Status from /diagnostics values, its text, the agent rate, drawing with rich."""

from __future__ import annotations

import io

import pytest

from gato_ros.liveview.status import CountRate, GraphStatus, Status, StatusLine, plain, status_from

LATEST = {
    "sim": {"episode": "2", "stage": "grasped", "episode_time_s": "7.25", "success": "False"},
    "safety": {"mode": "active", "interventions": "3"},
    "agent": {"published": "140", "tick_p99_ms": "12.46", "_age_s": "0.1"},
    "recorder": {"recording": "True", "episode_dir": "/demos/teleop/episode_20260101_120000_002"},
}


def test_status_from_diagnostics_and_its_text() -> None:
    s = status_from(LATEST, agent_rate_hz=19.94, elapsed_s=30.0)
    assert s == Status(episode=2, elapsed_s=7.25, stage="grasped", safety_mode="active", interventions=3,
                       agent_rate_hz=19.94, p99_ms=12.46, recording="episode_20260101_120000_002")
    assert plain(s) == ("episode 2 · 7.2 s · stage grasped · safety ACTIVE, 3 interventions · agent 19.9 Hz, "
                        "p99 12.5 ms · rec episode_20260101_120000_002")


def test_missing_nodes_show_dashes_not_errors() -> None:
    s = status_from({"sim": {}, "safety": {"mode": "hold"}}, agent_rate_hz=5.0, elapsed_s=3.0)
    assert s.agent_rate_hz is None  # no agent diagnostics: no agent rate, whatever the caller computed
    assert plain(s) == "episode - · 3.0 s · stage - · safety HOLD · agent - Hz, p99 - ms"
    assert plain(status_from({"sim": {"episode": "x", "episode_time_s": "?"}})).startswith("episode - · - s")


def test_agent_rate_from_published_counts() -> None:
    rate = CountRate()
    assert rate.update(0.0, 100) is None
    assert rate.update(0.0, 100) is None  # the same report polled again
    assert rate.update(1.0, 120) == pytest.approx(20.0)
    assert rate.update(2.0, 138) == pytest.approx(18.0)
    assert rate.update(3.0, 5) is None  # the agent restarted: start over
    assert rate.update(4.0, 25) == pytest.approx(20.0)


def test_graph_status_polls_a_monitor() -> None:
    reports = {"agent": {"published": "0", "_age_s": "0.5", "tick_p99_ms": "9"}}  # arrived at 100.0
    status = GraphStatus(lambda node: reports.get(node, {}), t0=100.0)
    assert status.poll(100.5).agent_rate_hz is None and status.poll(100.5).elapsed_s == pytest.approx(0.5)
    reports["agent"] = {"published": "20", "_age_s": "0.5", "tick_p99_ms": "9"}  # arrived at 101.0
    assert status.poll(101.5).agent_rate_hz == pytest.approx(20.0)


def test_status_line_draws_in_place_on_a_terminal_only() -> None:
    from rich.console import Console

    out = io.StringIO()
    with StatusLine(True, period_s=0.0, console=Console(file=out, force_terminal=True, width=200)) as line:
        line.update(status_from(LATEST, 20.0))
        line.update(status_from({**LATEST, "safety": {"mode": "estop"}}, 0.0))
    text = out.getvalue()
    assert "grasped" in text and "ESTOP" in text and "\r\x1b[2K" in text  # redrawn in place: CR, erase line
    with StatusLine(False) as line:  # not a terminal: nothing drawn, nothing fails
        line.update(Status())
