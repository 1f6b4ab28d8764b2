"""Shared fixtures: an isolated ROS 2 domain per test run, localhost discovery only."""

from __future__ import annotations

import os
import random

import pytest

os.environ.setdefault("MUJOCO_GL", "egl")


def pytest_configure(config: pytest.Config) -> None:
    """`colcon test` runs the fast tests unless told otherwise (`--pytest-args -m "slow or not slow"`), like
    `make test`.

    colcon runs `python -m pytest` with `--junit-prefix=<package>` in PYTEST_ADDOPTS; nothing else here sets it.
    """
    if config.getoption("junitprefix", None) == "gato_ros" and not config.option.markexpr:
        config.option.markexpr = "not slow"


@pytest.fixture(scope="session")
def ros_domain_id() -> int:
    """A ROS_DOMAIN_ID unique to this pytest run (0..101 are valid with default ports)."""
    return random.Random(os.getpid() ^ int.from_bytes(os.urandom(4), "little")).randint(1, 100)


@pytest.fixture
def ros_env(ros_domain_id: int, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment for rclpy in this process and in child processes started by a test."""
    monkeypatch.setenv("ROS_DOMAIN_ID", str(ros_domain_id))
    monkeypatch.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    monkeypatch.setenv("RMW_IMPLEMENTATION", os.environ.get("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp"))
    return dict(os.environ)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory):
    """A randomly initialised tiny model directory made once per run by the project's own export command."""
    import subprocess

    from helpers import CLI

    out = tmp_path_factory.mktemp("models") / "tiny"
    subprocess.run([*CLI, "export", "--random", "tiny", "--out", str(out)], check=True, timeout=300)
    assert (out / "gato.json").is_file()
    return out
