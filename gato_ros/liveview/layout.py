"""The shipped Foxglove layout (config/foxglove_layout.json), built with the SDK's `foxglove.layouts` from the
channel names of gato_ros.liveview, so the file and the channels cannot drift.

`python -m gato_ros.liveview.layout` rewrites the file; `--check` exits 1 when it is stale (a test runs the check).
Import it in Foxglove: Layouts > Import from file.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gato_ros.interfaces import (
    ACTION_DISTRIBUTION_TOPIC, CAMERA_TOPIC, COMMAND_TOPIC, EFFORT_OUTPUT_TOPIC, JOINT_NAMES, JOINT_STATES_TOPIC,
)
from gato_ros.liveview.channels import AGENT_CHANNEL, EPISODE_CHANNEL, OBJECTS_CHANNEL, SAFETY_CHANNEL

LAYOUT_FILE = "foxglove_layout.json"
ROOT_FRAME = "arm_base_link"  # the package URDF's root link: the 3D panel's fixed frame (present on any arm)


def layout_json(root_frame: str = ROOT_FRAME) -> str:
    """The layout as Foxglove's JSON (indented, stable key order)."""
    import foxglove.layouts as fl

    def plot(title: str, series: list[tuple[str, str]], **config: object) -> fl.PlotPanel:
        return fl.PlotPanel(title=title, config=fl.PlotConfig(
            paths=[fl.PlotSeries(value=path, label=label) for path, label in series], show_legend=True, **config))

    def split(direction: str, *items: tuple[float, object]) -> fl.SplitContainer:
        return fl.SplitContainer(direction=direction, items=[fl.SplitItem(proportion=p, content=c) for p, c in items])

    camera = fl.ImagePanel(title="camera",
                           config=fl.ImageConfig(image_mode=fl.ImageModeConfig(image_topic=CAMERA_TOPIC)))
    scene = fl.ThreeDeePanel(title="arm (link frames) and objects", config=fl.ThreeDeeConfig(
        fixed_frame=root_frame, follow_tf=root_frame,
        topics={OBJECTS_CHANNEL: fl.BaseRendererSceneUpdateTopicSettings(visible=True)}))
    arm = JOINT_NAMES[:-1]
    positions = plot("joint positions (rad)", [(f"{JOINT_STATES_TOPIC}.position[{i}]", n) for i, n in enumerate(arm)])
    commanded = plot("commanded efforts (agent/teleop)",
                     [(f"{COMMAND_TOPIC}.effort[{i}]", n) for i, n in enumerate(JOINT_NAMES)])
    output = plot("safety output efforts",
                  [(f"{EFFORT_OUTPUT_TOPIC}.effort[{i}]", n) for i, n in enumerate(JOINT_NAMES)])
    modes = fl.StateTransitionsPanel(title="safety mode and episode stage", config=fl.StateTransitionsConfig(paths=[
        fl.StateTransitionsSeries(value=f"{SAFETY_CHANNEL}.mode", label="safety mode"),
        fl.StateTransitionsSeries(value=f"{EPISODE_CHANNEL}.stage", label="stage")]))
    latency = plot("agent step latency (ms) and command rate (Hz)", [
        (f"{AGENT_CHANNEL}.p50_ms", "p50 ms"), (f"{AGENT_CHANNEL}.p99_ms", "p99 ms"),
        (f"{AGENT_CHANNEL}.command_rate_hz", "commands/s")])
    interventions = plot("safety interventions", [(f"{SAFETY_CHANNEL}.interventions", "interventions")])
    safety = fl.IndicatorPanel(title="safety", config=fl.IndicatorConfig(
        path=f"{SAFETY_CHANNEL}.mode", style="background", fallback_color="#a0a0a0", fallback_label="no safety node",
        rules=[fl.IndicatorRule(raw_value="active", operator="=", color="#2ca02c", label="ACTIVE"),
               fl.IndicatorRule(raw_value="hold", operator="=", color="#ff9f1c", label="HOLD"),
               fl.IndicatorRule(raw_value="estop", operator="=", color="#d62728", label="E-STOP"),
               fl.IndicatorRule(raw_value="fault", operator="=", color="#d62728", label="FAULT")]))
    episode = fl.RawMessagesPanel(title="episode", config=fl.RawMessagesConfig(topic_path=EPISODE_CHANNEL))
    distribution = plot("agent action distribution, last step (x: effort group, 0 = most negative)",
                        [(f"{ACTION_DISTRIBUTION_TOPIC}.joints[{i}].prob", n) for i, n in enumerate(JOINT_NAMES)],
                        x_axis_val="index")
    layout = fl.Layout(content=split(
        "row",
        (0.34, split("column", (0.5, camera), (0.5, scene))),
        (0.36, split("column", (0.25, positions), (0.25, commanded), (0.25, output), (0.25, distribution))),
        (0.30, split("column", (0.12, safety), (0.22, modes), (0.26, latency), (0.2, interventions), (0.2, episode))),
    ))
    return json.dumps(json.loads(layout.to_json()), indent=2, sort_keys=True) + "\n"


def layout_path() -> Path:
    from gato_ros import paths

    return paths.config_dir() / LAYOUT_FILE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 when the file is stale, write nothing")
    args = parser.parse_args(argv)
    path, text = layout_path(), layout_json()
    if args.check:
        current = path.read_text() if path.is_file() else ""
        if current != text:
            print(f"{path} is stale: run python -m gato_ros.liveview.layout", file=sys.stderr)
            return 1
        return 0
    path.write_text(text)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
