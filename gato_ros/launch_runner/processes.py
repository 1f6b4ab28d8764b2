"""Child processes of the runner: own process group each, die with the runner, stopped SIGINT -> SIGTERM -> SIGKILL."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

_PR_SET_PDEATHSIG = 1


def _child_setup() -> None:
    """In the child before exec: default SIGINT/SIGTERM handling (a runner started in the background by a
    non-interactive shell has SIGINT ignored, which exec would pass on and make every node deaf to the orderly
    stop), and SIGTERM if the runner dies (even by SIGKILL), so nothing is left behind."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:  # not Linux/glibc: the runner's own shutdown path still stops children
        pass


@dataclass
class Child:
    name: str
    proc: subprocess.Popen
    log: IO | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def running(self) -> bool:
        return self.proc.poll() is None

    def signal(self, sig: int) -> None:
        """Signal the child's whole process group (it may have started helpers)."""
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass


class ProcessSet:
    """Starts named commands and stops all of them with escalation; `stop_all` leaves no process running."""

    def __init__(self, log_dir: Path | None = None) -> None:
        self.children: list[Child] = []
        self.log_dir = log_dir

    def start(self, name: str, cmd: list[str], env: dict[str, str] | None = None) -> Child:
        log = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            log = open(self.log_dir / f"{name}.log", "ab")
        # New session: a terminal's Ctrl-C reaches only the runner, which forwards it in order.
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT if log else None,
                                stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=_child_setup)
        child = Child(name, proc, log)
        self.children.append(child)
        return child

    def exited(self) -> list[Child]:
        return [c for c in self.children if not c.running()]

    def stop_all(self, int_timeout_s: float = 10.0, term_timeout_s: float = 3.0) -> dict[str, str]:
        """SIGINT every child, then SIGTERM after `int_timeout_s`, then SIGKILL; returns how each one ended."""
        how: dict[str, str] = {}
        for sig, timeout, label in ((signal.SIGINT, int_timeout_s, "SIGINT"),
                                    (signal.SIGTERM, term_timeout_s, "SIGTERM"),
                                    (signal.SIGKILL, 5.0, "SIGKILL")):
            pending = [c for c in self.children if c.running()]
            if not pending:
                break
            for c in pending:
                c.signal(sig)
            deadline = time.monotonic() + timeout
            for c in pending:
                try:
                    c.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
                    how[c.name] = f"stopped by {label} (exit {c.proc.returncode})"
                except subprocess.TimeoutExpired:
                    pass
        for c in self.children:
            how.setdefault(c.name, f"exited on its own (exit {c.proc.returncode})")
            c.signal(signal.SIGKILL)  # any helper left in the group
            if c.log is not None:
                c.log.close()
        return how
