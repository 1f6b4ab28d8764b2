"""`gato-ros run stacking` when the agent cannot start: the reason is printed, exit code 1, no process left."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from helpers import CLI  # noqa: E402

pytestmark = pytest.mark.ros


def test_bad_model_dir_fails_cleanly(ros_env: dict[str, str], tmp_path: Path) -> None:
    summary = tmp_path / "summary.json"
    proc = subprocess.run(
        [*CLI, "run", "stacking", "--model", str(tmp_path / "no_model"),
         "--duration", "5", "--stop-timeout", "3", "--log-dir", str(tmp_path / "logs"),
         "--summary-json", str(summary)],
        env=ros_env, capture_output=True, text=True, timeout=60)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "lifecycle configure of agent failed" in out and "has no gato.json" in out, out
    data = json.loads(summary.read_text())
    assert set(data["nodes"]) == {"safety", "agent"}
    for name, pid in data["nodes"].items():
        stat = Path(f"/proc/{pid}/stat")
        assert not stat.exists() or stat.read_text().split(") ", 1)[1][0] == "Z", f"{name} still running"
    assert "configure failed" in (tmp_path / "logs" / "agent.log").read_text()


def test_unknown_graph_argument_is_rejected(ros_env: dict[str, str]) -> None:
    proc = subprocess.run([*CLI, "run", "stacking", "--sim", "maybe"],
                          env=ros_env, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "must be true or false" in proc.stdout + proc.stderr
