"""The action distribution of the agent's last step, for the live view: per action dimension the softmax over the
value bins, summed into a few groups, at the efforts (Nm; gripper in [-1, 1]) those groups decode to.

Pure numpy; the agent publishes it only while someone subscribes (gato_ros.nodes.agent).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from gato_ros.tokenizer.continuous import bin_centres

#: Bins summed into one group of the published histogram (1024 value bins -> 64 groups).
GROUPS = 64


def action_distribution(logits: np.ndarray, decode: Callable[[int, float], float], names: Sequence[str],
                        groups: int = GROUPS) -> dict[str, Any]:
    """{"joints": [{name, effort[groups], prob[groups], expected, max_prob}]} from the last step's bin logits
    [n_actions, n_bins]; `decode(i, value in [-1, 1])` is the tokenizer's value -> effort of dimension i."""
    logits = np.asarray(logits, dtype=np.float64)
    n_actions, n_bins = logits.shape
    if n_bins % groups or len(names) != n_actions:
        raise ValueError(f"{n_bins} bins do not split into {groups} groups, or {len(names)} names for "
                         f"{n_actions} actions")
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    centres = bin_centres(np.arange(n_bins), n_bins)
    grouped = p.reshape(n_actions, groups, n_bins // groups).sum(axis=2)
    group_values = centres.reshape(groups, -1).mean(axis=1)
    joints = []
    for i, name in enumerate(names):
        joints.append({"name": name, "effort": [round(decode(i, float(v)), 4) for v in group_values],
                       "prob": [round(float(x), 5) for x in grouped[i]], "expected": decode(i, float(p[i] @ centres)),
                       "max_prob": float(p[i].max())})
    return {"joints": joints}
