"""docs/INTERFACES.md cannot go stale: its parameter and launch-argument tables are generated from the config
dataclasses and the graph, and every node parameter has a description and a range that holds its default."""

from __future__ import annotations

import dataclasses
import typing

import pytest

from gato_ros.interfaces import doc as interfaces
from gato_ros.launch_runner.graph import STACKING


def test_generated_blocks_are_current() -> None:
    text = interfaces.DOC.read_text()
    assert interfaces.render(text) == text, "docs/INTERFACES.md is stale: run python -m gato_ros.interfaces"
    assert interfaces.main(["--check"]) == 0


def test_every_graph_node_has_its_config_documented() -> None:
    assert sorted(interfaces.NODE_CONFIGS) == sorted(n.name for n in STACKING.nodes)
    text = interfaces.DOC.read_text()
    for node in interfaces.NODE_CONFIGS:
        for field in dataclasses.fields(interfaces.config_class(node)):
            assert f"| `{field.name}` |" in text, f"{node} parameter {field.name} missing from docs/INTERFACES.md"
    for arg in STACKING.args:
        assert f"| `{arg.name}` |" in text


@pytest.mark.parametrize("node", sorted(interfaces.NODE_CONFIGS))
def test_every_parameter_has_a_description_and_a_range_that_holds_its_default(node: str) -> None:
    cls = interfaces.config_class(node)
    types = typing.get_type_hints(cls)
    default = cls()
    for field in dataclasses.fields(cls):
        assert field.metadata.get("doc"), f"{node} parameter {field.name} has no description"
        bounds = field.metadata.get("range")
        if bounds is not None:
            assert types[field.name] in (int, float), f"{field.name}: a range on a {types[field.name]}"
            assert bounds[0] <= getattr(default, field.name) <= bounds[1], f"{field.name} default outside {bounds}"


def test_the_config_files_stay_inside_the_documented_ranges() -> None:
    from gato_ros.nodes.common import load_ros_params
    from gato_ros.paths import config_dir

    for node in interfaces.NODE_CONFIGS:
        params = load_ros_params(config_dir() / f"{node}.yaml", node)
        for field in dataclasses.fields(interfaces.config_class(node)):
            bounds = field.metadata.get("range")
            if bounds is not None and field.name in params:
                assert bounds[0] <= params[field.name] <= bounds[1], f"config/{node}.yaml {field.name} out of {bounds}"


@pytest.mark.ros
def test_declared_parameters_carry_the_description_and_range(ros_env: dict[str, str]) -> None:
    """What `ros2 param describe` shows: the field's doc and its range, from declare_dataclass_parameters."""
    rclpy = pytest.importorskip("rclpy")
    from rclpy.node import Node

    from gato_ros.nodes.common import declare_dataclass_parameters

    rclpy.init()
    try:
        for node_name in interfaces.NODE_CONFIGS:
            cls = interfaces.config_class(node_name)
            node = Node(f"describe_{node_name}")
            try:
                declare_dataclass_parameters(node, cls)
                fields = dataclasses.fields(cls)
                for field, desc in zip(fields, node.describe_parameters([f.name for f in fields])):
                    assert desc.description == field.metadata["doc"]
                    bounds = field.metadata.get("range")
                    ranges = list(desc.floating_point_range) + list(desc.integer_range)
                    if bounds is None:
                        assert not ranges
                    else:
                        assert (ranges[0].from_value, ranges[0].to_value) == tuple(bounds), field.name
            finally:
                node.destroy_node()
    finally:
        rclpy.shutdown()
