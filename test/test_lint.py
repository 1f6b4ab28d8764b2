"""The linter is part of the suite: ruff (ruff.toml: pycodestyle errors/warnings, pyflakes, 120 columns)."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINTED = ("gato_ros", "test", "sim", "launch", "benchmarks")


def test_ruff_finds_nothing() -> None:
    try:
        from ruff.__main__ import find_ruff_bin
    except ImportError as exc:  # a missing linter is a broken install, not a reason to skip
        raise AssertionError("ruff is not installed: pip install -r requirements.txt") from exc
    result = subprocess.run([find_ruff_bin(), "check", "--no-cache", *LINTED], cwd=ROOT, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, f"ruff check {' '.join(LINTED)}:\n{result.stdout}{result.stderr}"
