"""Helpers shared by the rclpy nodes: dataclass <-> ROS parameter mirroring, diagnostics, `run_node`.

Topic names and QoS profiles live in gato_ros.interfaces."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.node import Node

from gato_ros.config import coerce

T = TypeVar("T")


class ParameterError(ValueError):
    """A ROS parameter or parameter file does not fit its config dataclass."""


# ----------------------------------------------------------------------------- parameters

def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _coerce(name: str, annotation: Any, value: Any) -> Any:
    """A ROS parameter value (ints for floats, lists for tuples) as the field's annotated type."""
    return coerce(f"parameter {name!r}", annotation, value, ParameterError)


def _ros_value(value: Any) -> Any:
    """A dataclass default as rclpy accepts it (tuples become lists)."""
    return list(value) if isinstance(value, tuple) else value


def parameter_descriptor(field: dataclasses.Field, annotation: Any) -> ParameterDescriptor:
    """The ROS descriptor of a config field: metadata "doc" is the description, "range" (lo, hi) the
    inclusive numeric range of an int or float field, "constraints" any further rule in words."""
    descriptor = ParameterDescriptor(description=field.metadata.get("doc", ""), dynamic_typing=True,
                                     additional_constraints=field.metadata.get("constraints", ""))
    bounds = field.metadata.get("range")
    if bounds is not None and annotation is float:
        descriptor.floating_point_range = [FloatingPointRange(from_value=float(bounds[0]), to_value=float(bounds[1]))]
    elif bounds is not None and annotation is int:
        descriptor.integer_range = [IntegerRange(from_value=int(bounds[0]), to_value=int(bounds[1]))]
    return descriptor


def declare_dataclass_parameters(node: Node, cls: type[T], defaults: T | None = None) -> T:
    """Declare one ROS parameter per field of the frozen dataclass `cls` and build it back from their values.

    Defaults come from `defaults` (or the dataclass's own); launch files and `--params-file` override them.
    Parameters are dynamically typed so that `100` in YAML is accepted for a float; the dataclass coerces.
    """
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    base = defaults if defaults is not None else cls()
    types = _field_types(cls)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        descriptor = parameter_descriptor(field, types[field.name])
        param = node.declare_parameter(field.name, _ros_value(getattr(base, field.name)), descriptor)
        value = param.value
        if value is None:  # declared without a value (e.g. an empty list default, overridden to nothing)
            value = getattr(base, field.name)
        values[field.name] = _coerce(field.name, types[field.name], value)
    return cls(**values)


def dataclass_from_dict(cls: type[T], data: Mapping[str, Any]) -> T:
    """Build the config dataclass from a plain mapping (YAML), rejecting unknown keys with a clear message."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ParameterError(f"unknown {cls.__name__} parameter(s) {unknown}; known: {sorted(names)}")
    types = _field_types(cls)
    return cls(**{k: _coerce(k, types[k], v) for k, v in data.items()})


def load_ros_params(path: str | Path, node_name: str) -> dict[str, Any]:
    """The `ros__parameters` of `node_name` (or of `/**`) in a ROS 2 parameter YAML file."""
    data = yaml.safe_load(Path(path).read_text()) or {}
    merged: dict[str, Any] = {}
    for key in ("/**", node_name, f"/{node_name}"):
        section = data.get(key)
        if isinstance(section, Mapping):
            merged.update(section.get("ros__parameters", {}) or {})
    return merged


def config_from_params_file(cls: type[T], path: str | Path, node_name: str) -> T:
    """The config dataclass for `node_name` from a ROS parameter file, as the node would see it."""
    params = load_ros_params(path, node_name)
    known = {f.name for f in dataclasses.fields(cls)}
    return dataclass_from_dict(cls, {k: v for k, v in params.items() if k in known})


# ----------------------------------------------------------------------------- commander announcement

def announce_commander(node: Node, source: str, **details: Any) -> Any:
    """Publish (latched) that `node` commands the arm as `source` ('teleop', 'agent', 'sim_expert'), with details
    such as the model; the recorder labels episodes by it. Returns the publisher (keep it alive: it is latched)."""
    from std_msgs.msg import String

    from gato_ros.interfaces import COMMANDER_QOS, COMMANDER_TOPIC
    from gato_ros.recorder.commander import Commander

    pub = node.create_publisher(String, COMMANDER_TOPIC, COMMANDER_QOS.profile())
    text = Commander(node.get_fully_qualified_name(), source, {k: str(v) for k, v in details.items()}).to_json()
    pub.publish(String(data=text))
    return pub


# ----------------------------------------------------------------------------- diagnostics

def diagnostic_status(
    node: Node, name: str, level: int, message: str, values: Mapping[str, Any] | None = None,
) -> DiagnosticStatus:
    """One DiagnosticStatus named `<node>: <name>` with stringified key/values."""
    status = DiagnosticStatus()
    status.level = bytes([level]) if isinstance(DiagnosticStatus.OK, bytes) else level
    status.name = f"{node.get_name()}: {name}"
    status.message = message
    status.hardware_id = node.get_fully_qualified_name()
    status.values = [KeyValue(key=str(k), value=_fmt(v)) for k, v in (values or {}).items()]
    return status


def diagnostic_array(node: Node, statuses: list[DiagnosticStatus]) -> DiagnosticArray:
    """Wrap statuses in a DiagnosticArray stamped with the node's clock."""
    msg = DiagnosticArray()
    msg.header.stamp = node.get_clock().now().to_msg()
    msg.status = statuses
    return msg


def diagnostic_values(status: DiagnosticStatus) -> dict[str, str]:
    """The key/values of a DiagnosticStatus as a dict (for readers and tests)."""
    return {kv.key: kv.value for kv in status.values}


def level_int(status: DiagnosticStatus) -> int:
    """The level of a DiagnosticStatus as an int (the field is a byte in rclpy)."""
    level = status.level
    return level[0] if isinstance(level, (bytes, bytearray)) else int(level)


OK = 0
WARN = 1
ERROR = 2
STALE = 3


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


#: run_node's longest wait before it looks at SIGINT/SIGTERM (the shutdown path never waits on ROS time).
SIGNAL_CHECK_PERIOD_S = 0.1


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def run_node(factory: Callable[[], Any], argv: list[str] | None = None,
             on_exit: Callable[[Any], None] | None = None) -> int:
    """Spin the node `factory()` makes until SIGINT/SIGTERM; `on_exit(node)` runs while the context is still up.

    The node's process owns both signals (rclpy's handlers would shut the context down first), so a node can
    still publish on the way out, e.g. the safety node's final zero-torque command.
    """
    import signal
    import sys

    import rclpy
    from rclpy.executors import ExternalShutdownException
    from rclpy.signals import SignalHandlerOptions

    rclpy.init(args=argv if argv is not None else sys.argv, signal_handler_options=SignalHandlerOptions.NO)
    signal.signal(signal.SIGINT, _raise_interrupt)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    node = None
    try:
        node = factory()
        # spin with a timeout, never an unbounded wait: with use_sim_time and a dead /clock no ROS-time timer
        # fires, rcl_wait would never return and the SIGINT handler (Python, main thread) would never run
        executor = rclpy.get_global_executor()
        executor.add_node(node)
        while rclpy.ok():
            executor.spin_once(timeout_sec=SIGNAL_CHECK_PERIOD_S)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            try:
                if on_exit is not None:
                    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the exit short
                    on_exit(node)
            finally:
                node.destroy_node()
        if rclpy.ok():
            rclpy.try_shutdown()
    return 0
