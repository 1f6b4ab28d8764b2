"""ProcessSet: children stopped SIGINT -> SIGTERM -> SIGKILL, process groups cleaned, children die with the runner."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from gato_ros.launch_runner.processes import ProcessSet

READY = "import sys, time, signal\n"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie waiting for its parent counts as gone
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


def _script(tmp_path: Path, name: str, body: str) -> list[str]:
    path = tmp_path / f"{name}.py"
    path.write_text(READY + textwrap.dedent(body))
    return [sys.executable, str(path)]


def _wait_file(path: Path, timeout: float = 10.0) -> str:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        time.sleep(0.02)
    raise TimeoutError(path)


def test_sigint_stops_a_well_behaved_child(tmp_path: Path) -> None:
    procs = ProcessSet(tmp_path / "logs")
    flag = tmp_path / "ready"
    child = procs.start("good", _script(tmp_path, "good", f"""
        open({str(flag)!r}, 'w').write('1')
        try:
            time.sleep(60)
        except KeyboardInterrupt:
            print('clean exit', flush=True)
    """))
    _wait_file(flag)
    how = procs.stop_all(int_timeout_s=5.0, term_timeout_s=1.0)
    assert how["good"].startswith("stopped by SIGINT (exit 0)")
    assert not _alive(child.pid)
    assert "clean exit" in (tmp_path / "logs" / "good.log").read_text()


def test_children_hear_sigint_when_the_runner_was_started_with_it_ignored(tmp_path: Path) -> None:
    """`gato-ros run ... &` from a script ignores SIGINT in the runner; its nodes must still stop on SIGINT."""
    flag = tmp_path / "ready"
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        procs = ProcessSet(tmp_path / "logs")
        child = procs.start("good", _script(tmp_path, "good", f"""
            open({str(flag)!r}, 'w').write('1')
            time.sleep(60)
        """))
    finally:
        signal.signal(signal.SIGINT, old)
    _wait_file(flag)
    how = procs.stop_all(int_timeout_s=5.0, term_timeout_s=1.0)
    assert how["good"].startswith("stopped by SIGINT"), how
    assert not _alive(child.pid)


def test_escalation_to_sigterm_and_sigkill(tmp_path: Path) -> None:
    procs = ProcessSet(tmp_path / "logs")
    f1, f2 = tmp_path / "r1", tmp_path / "r2"
    deaf_int = procs.start("deaf_int", _script(tmp_path, "deaf_int", f"""
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        open({str(f1)!r}, 'w').write('1')
        time.sleep(60)
    """))
    deaf_all = procs.start("deaf_all", _script(tmp_path, "deaf_all", f"""
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        open({str(f2)!r}, 'w').write('1')
        time.sleep(60)
    """))
    _wait_file(f1), _wait_file(f2)
    start = time.monotonic()
    how = procs.stop_all(int_timeout_s=0.5, term_timeout_s=0.5)
    assert time.monotonic() - start < 5.0
    assert how["deaf_int"].startswith("stopped by SIGTERM")
    assert how["deaf_all"].startswith("stopped by SIGKILL")
    assert not _alive(deaf_int.pid) and not _alive(deaf_all.pid)


def test_grandchildren_in_the_group_are_stopped(tmp_path: Path) -> None:
    procs = ProcessSet(tmp_path / "logs")
    pidfile = tmp_path / "grandchild.pid"
    procs.start("parent", _script(tmp_path, "parent", f"""
        import subprocess
        p = subprocess.Popen([sys.executable, '-c', 'import time, signal; '
                              'signal.signal(signal.SIGINT, signal.SIG_IGN); time.sleep(60)'])
        open({str(pidfile)!r}, 'w').write(str(p.pid))
        p.wait()
    """))
    grandchild = int(_wait_file(pidfile))
    procs.stop_all(int_timeout_s=2.0, term_timeout_s=1.0)
    time.sleep(0.2)
    assert not _alive(grandchild)


def test_children_die_with_a_killed_runner(tmp_path: Path) -> None:
    """Even SIGKILL of the runner leaves no node behind (PR_SET_PDEATHSIG)."""
    pidfile = tmp_path / "child.pid"
    runner = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from gato_ros.launch_runner.processes import ProcessSet
        procs = ProcessSet()
        c = procs.start('node', [sys.executable, '-c', 'import time; time.sleep(60)'])
        open({str(pidfile)!r}, 'w').write(str(c.pid))
        time.sleep(60)
    """)])
    try:
        child = int(_wait_file(pidfile))
        assert _alive(child)
        runner.send_signal(signal.SIGKILL)
        runner.wait(5)
        end = time.monotonic() + 5
        while _alive(child) and time.monotonic() < end:
            time.sleep(0.05)
        assert not _alive(child)
    finally:
        runner.kill()
