"""`gato-ros demos list|show|trim|mark|render` on real bags; errors for missing and corrupt demos."""

import json

import numpy as np
import pytest

from gato_ros.cli import main
from gato_ros.demos.bag import DemoError, read_episode, read_outcome, write_episode
from gato_ros.demos.manage import active_bounds, list_demos, trim
from gato_ros.episode import Episode


def _episode(t=30, idle_head=5, idle_tail=7, seed=0) -> Episode:
    """Steps [idle_head, t - idle_tail) move the arm; the rest is idle."""
    rng = np.random.default_rng(seed)
    qd = np.zeros((t, 8))
    qd[idle_head:t - idle_tail, :7] = rng.normal(0, 0.3, (t - idle_head - idle_tail, 7))
    actions = np.tile(np.r_[np.zeros(7), -1.0], (t, 1))
    actions[:, 0] = np.arange(t)  # step id
    images = np.zeros((t, 32, 32, 3), np.uint8)
    images[:, 0, 0, 0] = np.arange(t)
    return Episode(images, rng.normal(size=(t, 8)), qd, actions, instruction="stack", success=None, source="teleop")


@pytest.fixture
def demos(tmp_path):
    root = tmp_path / "demos"
    write_episode(root / "a", _episode())
    write_episode(root / "b", _episode(12, 0, 0, seed=1))
    return root


def test_list_and_show(demos, capsys):
    assert main(["demos", "list", str(demos)]) == 0
    out = capsys.readouterr().out
    assert "a " in out and "2 demos, 42 steps" in out
    assert main(["demos", "list", str(demos), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["steps"] for r in rows] == [30, 12] and rows[0]["duration_s"] == pytest.approx(29 * 0.05, abs=1e-3)
    assert main(["demos", "show", str(demos / "a")]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["topics"]["/gato/effort_command"] == 30 and info["topics"]["/gato/instruction"] == 1


def test_mark_then_trim_keeps_steps_and_outcome(demos, capsys):
    assert main(["demos", "mark", str(demos / "a"), "--success", "--note", "clean stack"]) == 0
    assert read_outcome(demos / "a")["success"] is True and read_episode(demos / "a").success is True
    assert main(["demos", "mark", str(demos / "a"), "--failure"]) == 0
    assert read_episode(demos / "a").success is False
    before = read_episode(demos / "a")
    assert active_bounds(before, margin=1) == (4, 24)
    assert main(["demos", "trim", str(demos / "a"), "--margin", "1"]) == 0
    after = read_episode(demos / "a")
    assert after.actions[:, 0].tolist() == list(range(4, 24))  # exactly the kept steps, in order
    assert np.array_equal(after.images, before.images[4:24]) and np.allclose(after.joint_velocities,
                                                                              before.joint_velocities[4:24])
    assert after.success is False and after.instruction == "stack"
    assert [r.steps for r in list_demos(demos)] == [20, 12]
    assert trim(demos / "b", start=2, stop=5)[:2] == (2, 5)
    assert read_episode(demos / "b").actions[:, 0].tolist() == [2, 3, 4]


def test_render_sheet_and_video(demos, tmp_path):
    import cv2

    assert main(["demos", "render", str(demos / "a"), str(tmp_path / "sheet.png"), "--frames", "10",
                 "--columns", "5"]) == 0
    sheet = cv2.imread(str(tmp_path / "sheet.png"))
    assert sheet.shape == (2 * 64, 5 * 64, 3)
    assert main(["demos", "render", str(demos / "a"), str(tmp_path / "a.mp4")]) == 0
    cap = cv2.VideoCapture(str(tmp_path / "a.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 30


def test_missing_corrupt_and_idle_demos_fail_clearly(demos, tmp_path, capsys):
    assert main(["demos", "show", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (demos / "bad").mkdir()
    (demos / "bad" / "bad.mcap").write_bytes(b"not an mcap file")
    assert main(["demos", "list", str(demos)]) == 0
    listing = capsys.readouterr().out
    assert "bad" in listing and "ERROR" in listing
    rows = {r.path.split("/")[-1]: r for r in list_demos(demos)}
    assert rows["bad"].error and rows["a"].steps == 30
    write_episode(tmp_path / "idle", _episode(10, 5, 5))
    with pytest.raises(DemoError, match="idle"):
        trim(tmp_path / "idle")
    assert main(["demos", "trim", str(demos / "a"), "--start", "5", "--stop", "99"]) == 2
    assert main(["demos", "render", str(demos / "a"), str(tmp_path / "x.gif")]) == 2


def test_generate_writes_readable_expert_demos(tmp_path, capsys):
    """`demos generate` (scripted expert in the sim) -> bags that list and read back."""
    assert main(["demos", "generate", "--out", str(tmp_path / "gen"), "--episodes", "1", "--seed", "3",
                 "--no-progress"]) == 0
    [row] = list_demos(tmp_path / "gen")
    assert not row.error and row.steps > 10 and row.source == "sim_expert"
    assert main(["demos", "generate", "--episodes", "1"]) == 2
    assert "output directory" in capsys.readouterr().err
