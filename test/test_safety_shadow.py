"""Shadow mode, pure logic: SafetyFilters (live + shadow filter), CommandRouter, and the agreement report of
`gato-ros sim2real shadow` on bags written by our own bag writer.

The properties: whatever the agent sends, the live output is exactly that of a plain SafetyFilter fed only the
operator's commands (hold when there are none); the shadow output is exactly that of a plain SafetyFilter fed only the
agent's commands, under the same joint states, e-stops, resets and time gaps."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gato_ros.demos.bag import EpisodeBagWriter
from gato_ros.interfaces import EFFORT_OUTPUT_TOPIC, JOINT_NAMES, SHADOW_OUTPUT_TOPIC
from gato_ros.recorder.commander import SOURCES
from gato_ros.safety import Mode, SafetyConfig, SafetyFilter, SafetyFilters
from gato_ros.safety.shadow import OPERATOR_SOURCES, CommandRouter
from gato_ros.sim2real.shadow import ShadowLogError, agreement, read_shadow_log, report_lines
from helpers import CLI
from test_safety import EFFORT, SpecLimits
from test_safety_faults_logic import _command, _good_command, _good_state, _state

_op = st.one_of(
    st.tuples(st.just("operator"), _good_command),
    st.tuples(st.just("agent"), _good_command),
    st.tuples(st.just("agent"), _good_command),
    st.tuples(st.just("agent"), _command),
    st.tuples(st.just("operator"), _command),
    st.tuples(st.just("state"), _good_state),
    st.tuples(st.just("state"), _good_state),
    st.tuples(st.just("state"), _state),
    st.tuples(st.just("reset"), st.none()),
    st.tuples(st.just("estop"), st.none()),
    st.tuples(st.just("fault"), st.none()),
    st.tuples(st.just("shadow_fault"), st.none()),
    st.tuples(st.just("gap"), st.floats(0.0, 0.6)),
    st.tuples(st.just("tick"), st.none()),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(_op, min_size=1, max_size=60), safe_start=st.booleans(), scale=st.sampled_from([1.0, 0.3]))
def test_shadow_never_reaches_the_live_output(ops: list, safe_start: bool, scale: float) -> None:
    """Live output == a plain filter fed only operator commands; shadow output == a plain filter fed only the
    agent's (both also get every joint state, e-stop, reset and fault of the shared inputs)."""
    cfg = SafetyConfig(safe_start=safe_start, effort_scale=scale, shadow=True)
    pair = SafetyFilters(SpecLimits(), cfg)
    live_ref, shadow_ref = SafetyFilter(SpecLimits(), cfg), SafetyFilter(SpecLimits(), cfg)
    t = 0.0
    operator_sent = False
    for kind, arg in ops:
        if kind == "operator":
            assert pair.command(arg, t, operator=True, role="teleop") == live_ref.command(arg, t)
            operator_sent = True
        elif kind == "agent":
            assert pair.command(arg, t, operator=False, role="agent") == shadow_ref.command(arg, t)
        elif kind == "state":
            assert pair.joint_state(arg[0], arg[1], t) == live_ref.joint_state(arg[0], arg[1], t)
            shadow_ref.joint_state(arg[0], arg[1], t)
        elif kind == "reset":
            pair.reset(), live_ref.reset(), shadow_ref.reset()
        elif kind == "estop":
            pair.estop(), live_ref.estop(), shadow_ref.estop()
        elif kind == "fault":
            pair.fault("node fault", t), live_ref.fault("node fault", t), shadow_ref.fault("node fault", t)
        elif kind == "shadow_fault":
            pair.shadow_fault("shadow path fault", t), shadow_ref.fault("shadow path fault", t)
        elif kind == "gap":
            t += arg
            continue
        live, mode, applied = pair.output(t)
        shadow = pair.shadow_output(t)
        assert shadow is not None
        ref_live, ref_mode, ref_applied = live_ref.output(t)
        ref_shadow = shadow_ref.output(t)
        np.testing.assert_array_equal(live, ref_live)
        assert (mode, applied) == (ref_mode, ref_applied)
        np.testing.assert_array_equal(shadow[0], ref_shadow[0])
        assert shadow[1:] == ref_shadow[1:]
        if not operator_sent:  # no operator: the arm holds whatever the agent asks
            assert mode is not Mode.ACTIVE
        t += 0.01


def test_agent_alone_arm_holds_while_shadow_passes_the_filtered_command() -> None:
    """Armed, fresh state, a large agent command at 100 Hz: the live output is the hold (zero at rest), the shadow
    output ramps at the torque rate limit and reaches the command clamped to the effort limits."""
    pair = SafetyFilters(SpecLimits(), SafetyConfig(safe_start=False, shadow=True))
    big = EFFORT * 3.0
    for k in range(100):
        t = k * 0.01
        pair.joint_state(np.zeros(8), np.zeros(8), t)
        pair.command(big, t, operator=False, role="agent")
        live, mode, _ = pair.output(t)
        shadow, shadow_mode, _ = pair.shadow_output(t)
        assert mode is Mode.HOLD and np.all(live[:7] == 0.0)
        assert shadow_mode is Mode.ACTIVE
        if k == 0:
            assert shadow[0] == pytest.approx(8.0)  # 800 Nm/s x 10 ms
    np.testing.assert_allclose(shadow, EFFORT)
    status = pair.status()
    assert status["shadow"] is True and status["mode"] == "hold" and status["shadow_mode"] == "active"
    assert status["shadow_commands_agent"] == 100 and "live_commands" not in status


def test_without_shadow_every_command_is_live() -> None:
    pair = SafetyFilters(SpecLimits(), SafetyConfig(safe_start=False))
    pair.joint_state(np.zeros(8), np.zeros(8), 0.0)
    assert pair.command(np.full(8, 0.5), 0.0, operator=False)  # the flag means nothing without shadow mode
    assert pair.output(0.0)[1] is Mode.ACTIVE
    assert pair.shadow_output(0.0) is None and pair.status()["shadow"] is False


def test_router_only_announced_operators_reach_the_arm() -> None:
    assert set(OPERATOR_SOURCES) <= set(SOURCES) and "agent" not in OPERATOR_SOURCES
    r = CommandRouter()
    teleop, agent, stranger = b"\x01" * 16, b"\x02" * 16, b"\x03" * 16
    assert not r.is_operator(teleop) and r.role(teleop) == "unresolved"  # not in the graph yet: shadow
    assert r.needs_lookup(teleop, 10.0) and not r.needs_lookup(teleop, 10.2)  # the graph asked at most every 0.5 s
    r.publishers({teleop: "/teleop", agent: "/agent", stranger: "/cli_pub"})
    assert not r.is_operator(teleop) and r.role(teleop) == "unannounced"  # announcement not received yet: shadow
    r.announce("/teleop", "teleop")
    r.announce("/agent", "agent")
    assert r.is_operator(teleop) and not r.is_operator(agent) and not r.is_operator(stranger)
    assert (r.role(agent), r.role(stranger)) == ("agent", "unannounced")
    assert not r.needs_lookup(teleop, 100.0)  # known publishers are never looked up again


# ----------------------------------------------------------------------------- the agreement report

def _shadow_bag(path: Path, arm: np.ndarray, shadow: np.ndarray, offset_ns: int = 200_000) -> Path:
    """A bag with one arm and one shadow output per 10 ms tick (shadow `offset_ns` later, as the node publishes)."""
    with EpisodeBagWriter(path, "", "agent") as w:
        for k, (a, s) in enumerate(zip(arm, shadow)):
            t = 1_000_000_000 + k * 10_000_000
            w.output(EFFORT_OUTPUT_TOPIC, a, t)
            w.output(SHADOW_OUTPUT_TOPIC, s, t + offset_ns)
    return path


def test_agreement_per_joint(tmp_path: Path) -> None:
    """Shadow = 0.5 x arm on joint 0 (corr 1, signs agree), = -arm on joint 1 (corr -1, signs never agree),
    constant on the others (no correlation); mean |diff| in units of the effort limit."""
    k = np.arange(200)
    arm = np.zeros((200, 8))
    arm[:, 0] = 40.0 * np.sin(k / 10)
    arm[:, 1] = 20.0 * np.cos(k / 7)
    shadow = np.zeros((200, 8))
    shadow[:, 0] = 0.5 * arm[:, 0]
    shadow[:, 1] = -arm[:, 1]
    shadow[:, 2] = 4.0
    log = read_shadow_log(_shadow_bag(tmp_path / "b", arm, shadow))
    assert len(log.t) == 200 and log.unpaired == 0
    res = agreement(log, JOINT_NAMES, EFFORT)
    j = res["joints"]
    assert j[0]["correlation"] == pytest.approx(1.0) and j[0]["sign_agreement"] == 1.0
    assert j[0]["mae_limit"] == pytest.approx(np.mean(np.abs(0.5 * arm[:, 0])) / 80)
    assert j[1]["correlation"] == pytest.approx(-1.0) and j[1]["sign_agreement"] == 0.0
    assert j[2]["correlation"] is None and j[2]["mae_limit"] == pytest.approx(0.1)
    assert j[2]["sign_samples"] == 0 and j[2]["sign_agreement"] is None  # the arm joint is at 0: no sign to compare
    assert res["overall"]["mae_limit"] == pytest.approx(np.mean(np.abs((shadow - arm) / EFFORT)))
    lines = report_lines(res)
    assert "right_j0" in lines[3] and lines[-1].split()[0] == "overall"
    json.dumps(res)  # JSON-ready


def test_bags_that_cannot_be_compared(tmp_path: Path) -> None:
    with pytest.raises(ShadowLogError, match="not a rosbag2"):
        read_shadow_log(tmp_path)
    with EpisodeBagWriter(tmp_path / "demo", "", "teleop") as w:  # a demo bag: commands, no safety outputs
        w.command(np.zeros(8), 1_000_000_000)
    with pytest.raises(ShadowLogError, match=r"no /effort_controller/commands and no /safety/shadow_output.*:=true"):
        read_shadow_log(tmp_path / "demo")
    with EpisodeBagWriter(tmp_path / "arm_only", "", "teleop") as w:
        w.output(EFFORT_OUTPUT_TOPIC, np.zeros(8), 1_000_000_000)
    with pytest.raises(ShadowLogError, match="no /safety/shadow_output messages"):
        read_shadow_log(tmp_path / "arm_only")
    far = _shadow_bag(tmp_path / "far", np.zeros((5, 8)), np.zeros((5, 8)), offset_ns=3_000_000)
    assert len(read_shadow_log(far).t) == 5  # within the default 5 ms
    with pytest.raises(ShadowLogError, match="fewer than 2"):
        read_shadow_log(far, max_gap_s=0.002)
    log = read_shadow_log(_shadow_bag(tmp_path / "ok", np.zeros((5, 8)), np.zeros((5, 8))))
    with pytest.raises(ShadowLogError, match="--robot"):
        agreement(log, JOINT_NAMES[:7], EFFORT[:7])


def test_cli_writes_table_json_and_plot(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    arm = rng.normal(0, 5, (100, 8))
    bag = _shadow_bag(tmp_path / "run", arm, arm + rng.normal(0, 1, (100, 8)))
    out = subprocess.run([*CLI, "sim2real", "shadow", str(bag), "--out", str(tmp_path / "res")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "overall" in out.stdout and "sign agree" in out.stdout
    res = json.loads((tmp_path / "res" / "shadow.json").read_text())
    assert res["robot"] == "sawyer" and res["samples"] == 100 and res["overall"]["correlation"] > 0.9
    assert (tmp_path / "res" / "shadow.png").stat().st_size > 1000
    bad = subprocess.run([*CLI, "sim2real", "shadow", str(tmp_path / "nothing"), "--no-plot"], capture_output=True,
                         text=True, timeout=120)
    assert bad.returncode == 2 and "not a rosbag2 directory" in bad.stderr
