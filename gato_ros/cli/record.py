"""`gato-ros record`: record teleop demos from the terminal. Runs a recorder (episodes under --out) and the
keyboard teleop in this process; Enter starts/stops an episode (resetting the sim first), y/n marks it.
The robot or sim, safety and teleop nodes run elsewhere, e.g. `gato-ros run stacking --sim true --teleop true`.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path
from typing import Any

RECORD_HELP = """\
recording:
  enter  start / stop an episode (start resets the sim unless --no-sim-reset)
  y / n  mark the current (or last) episode a success / failure      x  reset the sim      h  help
  esc    quit (an open episode is saved)
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("record", help="record teleop demos with the keyboard (rosbag2 MCAP per episode)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("demos/teleop"), help="episodes go to OUT/episode_*")
    p.add_argument("--instruction", default="stack the red object on the blue object")
    p.add_argument("--source", default="auto", choices=("auto", "teleop", "agent", "sim_expert"),
                   help="episode label; auto (default): the announced role of the node whose commands were recorded")
    p.add_argument("--no-keyboard-teleop", action="store_true",
                   help="do not publish /teleop/twist (another device such as a spacemouse drives the arm)")
    p.add_argument("--no-sim-reset", action="store_true", help="do not call /sim/reset when an episode starts")
    p.add_argument("--linear-speed", type=float, default=0.08, help="m/s per held key")
    p.add_argument("--angular-speed", type=float, default=0.5, help="rad/s per held key")
    p.add_argument("--no-status", action="store_true", help="no status line at the bottom of the terminal")
    p.set_defaults(func=_run)


class RecordSession:
    """What each key does: recording keys act on the recorder, the rest drive the keyboard teleop."""

    def __init__(self, recorder: Any, keyboard: Any, sim_reset: bool, echo: Any = print) -> None:
        """`recorder` (RecorderNode) and `keyboard` (KeyboardTeleopNode) are spun by another thread."""
        self.recorder, self.keyboard = recorder, keyboard
        self.sim_reset = sim_reset
        self.echo = echo

    def handle(self, key: str, now: float) -> bool:
        """Apply one key; False when the session should end."""
        from gato_ros.demos.bag import DemoError

        try:
            if key == "esc":
                return False
            if key == "enter":
                self._toggle()
            elif key in ("y", "n"):
                self.echo(self.recorder.mark(key == "y"))
            elif key == "x":
                self.echo(self.keyboard.call(self.keyboard.sim_reset))
            elif key in ("h", "?"):
                self._help()
            elif self.keyboard.keys.press(key, now) == "gripper":
                self.echo(f"gripper {'closed' if self.keyboard.keys.gripper else 'open'}")
        except DemoError as exc:
            self.echo(f"! {exc}")
        return True

    def _toggle(self) -> None:
        self.keyboard.keys.stop()
        if self.recorder.recording:
            self.echo(f"saved {self.recorder.stop()}")
            return
        if self.sim_reset:
            self.echo(f"sim reset: {self.keyboard.call(self.keyboard.sim_reset)}")
            time.sleep(0.5)  # let the new episode's first images and joint states arrive
        self.keyboard.call(self.keyboard.teleop_reset, discovery_s=1.0)  # hold the pose the sim reset to
        self.echo(f"recording {self.recorder.start()}  (enter: stop)")

    def _help(self) -> None:
        from gato_ros.teleop.keyboard import HELP

        self.echo(HELP + RECORD_HELP)


def _spin(executor: Any) -> None:
    """executor.spin until rclpy shuts down."""
    from rclpy.executors import ExternalShutdownException

    try:
        executor.spin()
    except ExternalShutdownException:
        pass


def _run(args: argparse.Namespace) -> int:
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.parameter import Parameter

    from gato_ros.nodes.recorder import RecorderNode
    from gato_ros.teleop.keyboard import KeyboardConfig, KeyboardError, TerminalKeys
    from gato_ros.nodes.keyboard import KeyboardTeleopNode

    if not sys.stdin.isatty():
        print("gato-ros record: needs an interactive terminal (stdin is not a tty)", file=sys.stderr)
        return 2
    rclpy.init()
    recorder = keyboard = spinner = None
    try:
        recorder = RecorderNode(parameter_overrides=[
            Parameter("output_dir", value=str(args.out)), Parameter("auto_start", value=False),
            Parameter("instruction", value=args.instruction), Parameter("source", value=args.source)])
        keyboard = KeyboardTeleopNode(config=KeyboardConfig(args.linear_speed, args.angular_speed),
                                      publish_twist=not args.no_keyboard_teleop)
        executor = SingleThreadedExecutor()
        executor.add_node(recorder)
        executor.add_node(keyboard)
        spinner = threading.Thread(target=_spin, args=(executor,), daemon=True)  # callbacks off the key loop
        spinner.start()
        session = RecordSession(recorder, keyboard, not args.no_sim_reset, echo=lambda s: print(s, flush=True))
        session._help()
        print(f"episodes go to {args.out.resolve()}; press enter to start", flush=True)
        from gato_ros.launch_runner.monitor import GraphMonitor
        from gato_ros.liveview.status import GraphStatus, StatusLine

        with TerminalKeys() as term, GraphMonitor("gato_record_status") as monitor, \
                StatusLine(sys.stdout.isatty() and not args.no_status) as line:
            status = GraphStatus(monitor.latest, time.monotonic())
            running = True
            while running:
                for key in term.read(0.05):
                    running = running and session.handle(key, time.monotonic())
                line.update(status.poll(time.monotonic()))  # episode, stage, safety, recording: refreshed in place
    except KeyboardError as exc:
        print(f"gato-ros record: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    finally:
        if recorder is not None and recorder.recording:
            print(f"saved {recorder.stop()}", flush=True)
        rclpy.try_shutdown()  # ends executor.spin in the spinner thread
        if spinner is not None:
            spinner.join(timeout=5.0)
        for node in (recorder, keyboard):
            if node is not None:
                node.destroy_node()
    return 0
