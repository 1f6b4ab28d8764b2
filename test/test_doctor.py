"""`gato-ros doctor`: each check says ok / warn / FAIL with a hint, and the command's exit status follows FAIL."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from gato_ros.cli import build_parser
from gato_ros.cli import doctor
from helpers import CLI


def test_doctor_is_a_subcommand() -> None:
    args = build_parser().parse_args(["doctor", "--no-dds", "--model", "/m"])
    assert args.func is doctor._doctor and args.model == "/m" and args.no_dds


def test_bad_settings_and_missing_model_fail_with_a_hint(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ROS_DOMAIN_ID", "999")
    check = doctor.check_discovery()
    assert check.status == doctor.FAIL and "0..232" in check.hint
    monkeypatch.setenv("ROS_DOMAIN_ID", "7")
    monkeypatch.setenv("ROS_LOCALHOST_ONLY", "1")
    assert doctor.check_discovery().status == doctor.WARN
    check = doctor.check_model(str(tmp_path / "nowhere"))
    assert check.status == doctor.FAIL and "gato.json" in check.detail and check.hint


def test_environment_checks_pass_here() -> None:
    for check in (doctor.check_python, doctor.check_rmw, doctor.check_onnxruntime, doctor.check_modules,
                  doctor.check_package_data):
        result = check()
        assert result.status == doctor.OK, result


@pytest.mark.ros
def test_dds_round_trip(ros_env: dict[str, str]) -> None:
    result = doctor.check_dds_round_trip(timeout_s=10.0)
    assert result.status == doctor.OK, result


def test_command_reports_json_and_exit_status(tiny_model: Path, tmp_path: Path) -> None:
    ok = subprocess.run([*CLI, "doctor", "--no-dds", "--json", "--model", str(tiny_model)],
                        capture_output=True, text=True, timeout=120)
    checks = {c["name"]: c for c in json.loads(ok.stdout)}
    assert checks["model dir"]["status"] == "ok", checks["model dir"]
    assert ok.returncode == (1 if any(c["status"] == "FAIL" for c in checks.values()) else 0)
    bad = subprocess.run([*CLI, "doctor", "--no-dds", "--model", str(tmp_path)], capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode == 1 and "model dir" in bad.stdout and "check(s) failed" in bad.stdout
