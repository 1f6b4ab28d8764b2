"""JointLayout: the model's joint order (gato.json `robot.joint_names`) against the node's `joint_names`.

The agent checks it at configure: the same names in the same order pass through; the same set in another order is
reordered by name (observations into the model's order, efforts back into the node's); any other difference (a
missing, extra or renamed joint, a different count) is a JointLayoutError, so configure fails with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


class JointLayoutError(ValueError):
    """The model's joints are not the node's joints (names differ, or their number)."""


def check_robot(model_robot: str, node_robot: str) -> None:
    """A model drives only the arm it was trained for (gato.json robot.name against the agent's `robot`)."""
    if model_robot != node_robot:
        raise JointLayoutError(f"the model was trained for robot {model_robot!r} (gato.json robot.name) but this "
                               f"graph drives {node_robot!r}; use a model trained for {node_robot!r}")


@dataclass(frozen=True)
class JointLayout:
    """`to_model[i]`: node index of the model's joint i; `to_node[j]`: model index of the node's joint j."""

    model_names: tuple[str, ...]
    node_names: tuple[str, ...]
    to_model: np.ndarray
    to_node: np.ndarray

    @classmethod
    def match(cls, model_names: Sequence[str], node_names: Sequence[str]) -> "JointLayout":
        model, node = tuple(model_names), tuple(node_names)
        if len(set(model)) != len(model):
            raise JointLayoutError(f"the model's robot.joint_names has duplicates: {list(model)}")
        if set(model) != set(node) or len(model) != len(node):
            missing = [n for n in node if n not in model]
            extra = [n for n in model if n not in node]
            raise JointLayoutError(
                f"the model's joints {list(model)} ({len(model)}) do not match joint_names {list(node)} "
                f"({len(node)}): missing from the model {missing}, not in joint_names {extra}; use a model trained "
                "for this robot or set the agent's joint_names parameter")
        to_model = np.array([node.index(n) for n in model], dtype=int)
        return cls(model, node, to_model, np.argsort(to_model))

    @property
    def identity(self) -> bool:
        return self.model_names == self.node_names

    def observation(self, values: np.ndarray) -> np.ndarray:
        """Per-joint values in the node's order -> the model's order."""
        return np.asarray(values)[self.to_model]

    def efforts(self, values: np.ndarray) -> np.ndarray:
        """The model's efforts in its order -> the node's order (what /gato/effort_command carries)."""
        return np.asarray(values)[self.to_node]
