"""`gato-ros run stacking --sim true --robot panda`: the Panda cell, safety with the Panda's URDF and joint names,
teleop holding the arm, over real DDS; and the agent refusing a model trained for the Sawyer. Slow (two graphs)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from helpers import CLI
from helpers import robosuite_available

pytestmark = [pytest.mark.ros, pytest.mark.slow]


@pytest.mark.skipif(not robosuite_available(), reason="robosuite (Panda assets) not installed")
def test_panda_graph_runs_under_safety_with_the_panda_joints(ros_env: dict[str, str], tmp_path: Path) -> None:
    summary = tmp_path / "summary.json"
    logs = tmp_path / "logs"
    run = subprocess.run([*CLI, "run", "stacking", "--sim", "true", "--robot", "panda", "--teleop", "true",
                          "--episodes", "1", "--duration", "6", "--log-dir", str(logs), "--summary-json", str(summary)],
                         env=ros_env, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads(summary.read_text())
    assert result["safety"]["mode"] == "active", result["safety"]  # no fault: the arm stayed within the Panda's limits
    assert "fault" not in result["safety"]["last_reason"]
    assert result["early_exits"] == {} and all("exit 0" in v for v in result["exits"].values()), result["exits"]
    assert "['panda_joint1', 'panda_joint2'" in (logs / "safety.log").read_text()
    assert result["safety"]["unknown_joint_names"] == "[]" and result["safety"]["missing_joints"] == "[]"


def test_agent_refuses_a_sawyer_model_on_the_panda(ros_env: dict[str, str], tiny_model: Path,
                                                   tmp_path: Path) -> None:
    if not robosuite_available():
        pytest.skip("robosuite (Panda assets) not installed")
    run = subprocess.run([*CLI, "run", "stacking", "--sim", "true", "--robot", "panda", "--model", str(tiny_model),
                          "--episodes", "1", "--duration", "2", "--log-dir", str(tmp_path / "logs")],
                         env=ros_env, capture_output=True, text=True, timeout=180)
    assert run.returncode != 0
    assert "trained for robot 'sawyer'" in run.stdout + run.stderr
