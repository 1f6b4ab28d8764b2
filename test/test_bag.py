"""Demo bags: round trip through rosbag2 MCAP, rosbags reads them, crash recovery, clear errors."""

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from gato_ros.demos.bag import (
    DemoError, EpisodeBagWriter, list_episodes, read_episode, replace_bag, write_episode, writer_alive,
)
from gato_ros.episode import Episode


def _episode(t: int = 12) -> Episode:
    rng = np.random.default_rng(3)
    return Episode(rng.integers(0, 255, (t, 64, 64, 3), dtype=np.uint8), rng.normal(size=(t, 8)),
                   rng.normal(size=(t, 8)), rng.normal(size=(t, 8)) * 10,
                   instruction="stack the red object on the blue object",
                   success=True, source="sim_expert", task="rgb_stacking_triplet1")


def test_round_trip_and_rosbags_reads_it(tmp_path):
    ep = _episode()
    write_episode(tmp_path / "ep0", ep)
    got = read_episode(tmp_path / "ep0")
    assert len(got) == len(ep) and got.success is True and got.instruction == ep.instruction
    assert np.array_equal(got.images, ep.images) and np.allclose(got.actions, ep.actions)
    assert np.allclose(got.joint_positions, ep.joint_positions) and got.source == "sim_expert"
    assert got.task == "rgb_stacking_triplet1" and got.control_rate_hz == ep.control_rate_hz
    from rosbags.rosbag2 import Reader

    with Reader(tmp_path / "ep0") as reader:  # what `ros2 bag info` shows, read by the rosbags library
        counts = {c.topic: c.msgcount for c in reader.connections}
        start, duration = reader.start_time, reader.duration
    period = int(1e9 / ep.control_rate_hz)
    assert start == 1_000_000 and duration <= len(ep) * period + 10  # the instruction does not sit at t = 0
    assert counts["/gato/instruction"] == 1
    assert "storage_identifier: mcap" in (tmp_path / "ep0" / "metadata.yaml").read_text()
    assert counts["/camera/image_raw"] == 12 and counts["/gato/effort_command"] == 12 and counts["/gato/outcome"] == 1
    write_episode(tmp_path / ".ep0.new", ep)  # a rewrite's temporary bag (left by a crash) is not a demo
    assert list_episodes(tmp_path) == [tmp_path / "ep0"]


def test_joint_states_in_any_order_and_extra_joints(tmp_path):
    names = ["head_pan", "gripper_joint"] + [f"right_j{i}" for i in range(6, -1, -1)]
    with EpisodeBagWriter(tmp_path / "e", "x") as w:
        w.image(np.zeros((8, 8, 3), np.uint8), 10)
        w.joint_state(names, np.arange(9.0), np.arange(9.0) * 2, None, 10)
        w.command(np.ones(8), 11)
        w.command(np.ones(8) * 2, 5)  # before any observation: no timestep
        w.close(False)
    ep = read_episode(tmp_path / "e")
    assert len(ep) == 1 and ep.success is False
    assert ep.joint_positions[0].tolist() == [8, 7, 6, 5, 4, 3, 2, 1]


def test_missing_and_corrupt_demos_give_clear_errors(tmp_path):
    with pytest.raises(DemoError, match="does not exist"):
        read_episode(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DemoError, match="metadata.yaml"):
        read_episode(tmp_path / "empty")
    write_episode(tmp_path / "ok", _episode(3))
    mcap = next((tmp_path / "ok").glob("*.mcap"))
    mcap.write_bytes(b"garbage" * 10)
    with pytest.raises(DemoError, match="not a readable"):
        read_episode(tmp_path / "ok")
    with pytest.raises(DemoError, match="already exists"):
        EpisodeBagWriter(tmp_path / "ok")


@pytest.mark.parametrize("flush", [False, True])
def test_killed_writer_leaves_a_recoverable_bag(tmp_path, flush):
    """SIGKILL mid-episode (no metadata.yaml, no MCAP footer): every completed or flushed chunk is read back.
    While the writer lives, reading uses a recovered copy and leaves the live bag alone."""
    out = tmp_path / "crash"
    code = textwrap.dedent(f"""
        import numpy as np, sys, time
        from gato_ros.demos.bag import EpisodeBagWriter
        w = EpisodeBagWriter({str(out)!r}, "stack the red object on the blue object", source="agent", task="t1")
        rng = np.random.default_rng(0)
        for t in range(300):
            w.image(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8), t * 50_000_000)
            w.joint_state([f"right_j{{i}}" for i in range(7)] + ["gripper_joint"], np.full(8, t), np.zeros(8), None,
                          t * 50_000_000)
            w.command(np.full(8, float(t)), t * 50_000_000 + 1)
        if {flush}:
            w.flush()
        print("written", flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "written"
        assert writer_alive(out)
        live = sorted(f.name for f in out.iterdir())
        if flush:
            assert len(read_episode(out)) == 300 and read_episode(out).source == "agent"
        assert sorted(f.name for f in out.iterdir()) == live  # a bag being recorded is not rewritten
        with pytest.raises(DemoError, match="still being recorded"):
            replace_bag(out, outcome={"success": True})
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not (out / "metadata.yaml").exists()
    ep = read_episode(out)
    if flush:
        assert len(ep) == 300  # flush() wrote the pending chunk
    else:
        assert 100 <= len(ep) < 300  # the in-memory chunk at the kill is lost, the rest survives
    assert ep.actions[:, 0].tolist() == list(range(len(ep)))  # in order, no gaps
    assert ep.instruction == "stack the red object on the blue object" and ep.success is None
    assert ep.source == "agent" and ep.task == "t1" and not writer_alive(out)  # custom_data kept from the sidecar
    assert (out / "metadata.yaml").is_file()  # rewritten as a complete bag
    assert len(read_episode(out)) == len(ep)
    meta = (out / "metadata.yaml").read_text()
    assert "recovered" in meta


def _object_state(t: int, seed: int = 5) -> np.ndarray:
    from gato_ros.interfaces import OBJECT_COLORS
    from gato_ros.observation import object_state_from_poses

    rng = np.random.default_rng(seed)
    return np.stack([object_state_from_poses({c: (rng.normal(size=3), rng.normal(size=4)) for c in OBJECT_COLORS})
                     for _ in range(t)])


def test_object_state_round_trip_and_old_bags_read_as_none(tmp_path):
    from gato_ros.interfaces import OBJECT_POSES_TOPIC

    ep = _episode(6)
    ep.object_state = _object_state(6)
    write_episode(tmp_path / "with", ep)
    got = read_episode(tmp_path / "with")
    assert got.object_state is not None and np.allclose(got.object_state, ep.object_state)
    from rosbags.rosbag2 import Reader

    with Reader(tmp_path / "with") as reader:
        conn = next(c for c in reader.connections if c.topic == OBJECT_POSES_TOPIC)
        assert conn.msgtype == "geometry_msgs/msg/PoseArray" and conn.msgcount == 6
    assert np.allclose(got.slice(2, 4).object_state, ep.object_state[2:4])
    write_episode(tmp_path / "without", _episode(4))  # no poses recorded: None, like every bag before the topic
    assert read_episode(tmp_path / "without").object_state is None


def test_object_poses_align_like_joint_states(tmp_path):
    from gato_ros.interfaces import OBJECT_COLORS

    rows = _object_state(3)
    with EpisodeBagWriter(tmp_path / "e", "x") as w:
        w.image(np.zeros((8, 8, 3), np.uint8), 10)
        w.joint_state(list(ep_names := [f"right_j{i}" for i in range(7)] + ["gripper_joint"]), np.zeros(8),
                      np.zeros(8), None, 10)
        w.command(np.ones(8), 11)  # before the first poses: dropped (the bag has poses)
        w.object_poses(rows[0], 20)
        w.command(np.ones(8), 21)
        w.object_poses({c: (rows[1][7 * i:7 * i + 3], rows[1][7 * i + 3:7 * i + 7])
                        for i, c in enumerate(OBJECT_COLORS)}, 30)
        w.object_poses(rows[2], 40)  # after the last command: unused
        w.command(np.ones(8) * 2, 35)
        w.close(True)
    ep = read_episode(tmp_path / "e")
    assert len(ep) == 2 and np.allclose(ep.object_state, rows[:2]) and ep_names
    with EpisodeBagWriter(tmp_path / "f", "x") as w, pytest.raises(DemoError):
        w.object_poses(np.zeros(20), 1)  # not 21 values


def test_cartesian_commands_round_trip_align_with_effort_commands_and_must_cover_every_step(tmp_path):
    """The sim expert's Cartesian command (/gato/cartesian_command) reads back row for row with the effort commands;
    a bag without it reads as None; one missing for a step is a clear error, not a misaligned episode."""
    ep = _episode(5)
    ep.cartesian_commands = np.random.default_rng(0).uniform(-0.01, 0.01, (5, 7))
    write_episode(tmp_path / "with", ep)
    got = read_episode(tmp_path / "with")
    np.testing.assert_allclose(got.cartesian_commands, ep.cartesian_commands)
    np.testing.assert_allclose(got.slice(1, 3).cartesian_commands, ep.cartesian_commands[1:3])
    assert read_episode(tmp_path / "with").actions.shape == (5, 8)
    write_episode(tmp_path / "without", _episode(3))
    assert read_episode(tmp_path / "without").cartesian_commands is None
    with EpisodeBagWriter(tmp_path / "gap", "stack", "sim_expert", "basket_front_left", 20.0) as w:
        for t in range(3):
            t_ns = 1_000_000 + t * 50_000_000
            w.image(ep.images[t], t_ns)
            w.joint_state(list(ep.joint_names), ep.joint_positions[t], ep.joint_velocities[t], None, t_ns)
            w.command(ep.actions[t], t_ns + 1)
            if t != 1:
                w.cartesian_command(ep.cartesian_commands[t], t_ns + 1)
        w.close(True)
    with pytest.raises(DemoError, match="cartesian_command"):
        read_episode(tmp_path / "gap")
