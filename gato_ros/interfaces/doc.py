"""The generated parts of docs/INTERFACES.md: QoS profiles (gato_ros.interfaces), node parameter tables (from the
config dataclasses) and launch arguments (gato_ros.launch_runner.graph).

`python -m gato_ros.interfaces` rewrites the generated blocks; `--check` exits 1 when they are stale
(test/test_interfaces_doc.py runs the same check). The config dataclasses are the one source of the parameters:
each field's metadata "doc" is its description and "range" (lo, hi) its inclusive range, the same text and range
that `ros2 param describe` shows (gato_ros.nodes.common.parameter_descriptor).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import sys
import typing
from pathlib import Path
from typing import Any

from gato_ros.interfaces import QOS_PROFILES
from gato_ros.launch_runner.graph import STACKING

#: node name -> "module:ConfigClass" whose fields are that node's ROS parameters (declare_dataclass_parameters)
NODE_CONFIGS: dict[str, str] = {
    "agent": "gato_ros.agent.config:AgentConfig",
    "safety": "gato_ros.safety.config:SafetyConfig",
    "sim": "gato_ros.sim.config:SimConfig",
    "teleop": "gato_ros.teleop.config:TeleopConfig",
    "recorder": "gato_ros.recorder.config:RecorderConfig",
    "foxglove": "gato_ros.liveview.config:FoxgloveConfig",
    "joy_teleop": "gato_ros.teleop.config:JoyTeleopConfig",
}
DOC = Path(__file__).resolve().parents[2] / "docs" / "INTERFACES.md"
BEGIN = "<!-- BEGIN GENERATED {name}: python -m gato_ros.interfaces -->"
END = "<!-- END GENERATED {name} -->"


def config_class(node: str) -> type:
    module, _, name = NODE_CONFIGS[node].partition(":")
    return getattr(importlib.import_module(module), name)


def ros_type(annotation: Any) -> str:
    """The ROS parameter type a field is declared as."""
    if typing.get_origin(annotation) is tuple:
        return ros_type(typing.get_args(annotation)[0]) + " array"
    return {float: "double", int: "integer", bool: "bool", str: "string"}.get(annotation, str(annotation))


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return f'`"{value}"`' if value else '`""`'
    if isinstance(value, tuple):
        return "`[" + ", ".join(str(_value(v)).strip("`") for v in value) + "]`"
    return f"`{value}`"


def parameters(node: str) -> list[dict[str, str]]:
    """One row per ROS parameter of `node`: name, type, default, range, description."""
    cls = config_class(node)
    types = typing.get_type_hints(cls)
    rows = []
    for field in dataclasses.fields(cls):
        default = field.default if field.default is not dataclasses.MISSING else field.default_factory()  # type: ignore[misc]
        bounds = field.metadata.get("range")
        span = f"[{bounds[0]}, {bounds[1]}]" if bounds is not None else ""
        if field.metadata.get("constraints"):
            span = "; ".join(s for s in (span, field.metadata["constraints"]) if s)
        rows.append({"name": field.name, "type": ros_type(types[field.name]), "default": _value(default),
                     "range": span, "description": field.metadata.get("doc", "")})
    return rows


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def parameter_tables() -> str:
    out = []
    for node in NODE_CONFIGS:
        cls = config_class(node)
        out.append(f"#### `{node}` ({cls.__module__}.{cls.__name__}, config/{node}.yaml)\n")
        out.append("| parameter | type | default | range / constraint | description |")
        out.append("|---|---|---|---|---|")
        for r in parameters(node):
            out.append(f"| `{r['name']}` | {r['type']} | {_cell(r['default'])} | {_cell(r['range'])} | "
                       f"{_cell(r['description'])} |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def qos_table() -> str:
    out = ["| name (gato_ros.interfaces) | reliability | durability | history / depth |", "|---|---|---|---|"]
    for name, q in QOS_PROFILES.items():
        reliability = ("reliable" if q.reliable else "best effort") + (f" ({q.note})" if q.note else "")
        durability = "transient local" if q.transient_local else "volatile"
        out.append(f"| `{name}` | {reliability} | {durability} | keep last {q.depth} |")
    return "\n".join(out) + "\n"


def launch_arguments_table() -> str:
    out = ["| argument | default | description |", "|---|---|---|"]
    for arg in STACKING.args:
        default = f"value of `{arg.default_from}`" if arg.default_from else _value(arg.default)
        out.append(f"| `{arg.name}` | {default} | {_cell(arg.description)} |")
    return "\n".join(out) + "\n"


def blocks() -> dict[str, str]:
    return {"qos": qos_table(), "parameters": parameter_tables(), "launch-arguments": launch_arguments_table()}


def render(text: str) -> str:
    """`text` with every generated block replaced by its current content."""
    for name, body in blocks().items():
        begin, end = BEGIN.format(name=name), END.format(name=name)
        if begin not in text or end not in text:
            raise ValueError(f"{DOC.name} lacks the markers of the generated block {name!r}")
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = f"{head}{begin}\n{body}{end}{tail}"
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gato_ros.interfaces", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/INTERFACES.md is stale")
    parser.add_argument("--doc", type=Path, default=DOC)
    args = parser.parse_args(argv)
    text = args.doc.read_text()
    new = render(text)
    if args.check:
        if new != text:
            print(f"{args.doc} is stale: run python -m gato_ros.interfaces", file=sys.stderr)
            return 1
        return 0
    if new != text:
        args.doc.write_text(new)
        print(f"updated {args.doc}")
    return 0

