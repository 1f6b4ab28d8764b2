"""The agent's model joint layout check (issue 14 item 4) and the runner's honest agent state (item 5)."""

from __future__ import annotations

import numpy as np
import pytest

from gato_ros.agent.layout import JointLayout, JointLayoutError
from helpers import JOINTS


def test_same_order_is_identity() -> None:
    layout = JointLayout.match(JOINTS, JOINTS)
    assert layout.identity
    x = np.arange(8.0)
    np.testing.assert_array_equal(layout.observation(x), x)
    np.testing.assert_array_equal(layout.efforts(x), x)


def test_permuted_model_is_reordered_by_name() -> None:
    model = list(JOINTS)
    model[0], model[7] = model[7], model[0]  # right_j0 and gripper_joint swapped in gato.json
    layout = JointLayout.match(model, JOINTS)
    assert not layout.identity
    q_node = np.arange(8.0)  # value i belongs to JOINTS[i]
    q_model = layout.observation(q_node)
    assert [JOINTS[int(v)] for v in q_model] == model  # each model slot gets its own joint's value
    efforts_model = np.array([10.0 * JOINTS.index(n) for n in model])  # the model's effort for joint n
    np.testing.assert_array_equal(layout.efforts(efforts_model), 10.0 * np.arange(8))
    rng = np.random.default_rng(0)
    perm = rng.permutation(8)
    layout = JointLayout.match([JOINTS[i] for i in perm], JOINTS)
    v = rng.normal(size=8)
    np.testing.assert_array_equal(layout.efforts(layout.observation(v)), v)


@pytest.mark.parametrize("model", [JOINTS[:7], JOINTS + ["extra"], JOINTS[:7] + ["finger"], JOINTS[:7] + JOINTS[:1]])
def test_other_joint_sets_fail_clearly(model: list[str]) -> None:
    with pytest.raises(JointLayoutError, match="do not match joint_names|duplicates"):
        JointLayout.match(model, JOINTS)


def test_runner_summary_does_not_call_a_dead_agent_acting() -> None:
    from gato_ros.launch_runner.runner import Summary

    s = Summary(agent={"_message": "acting", "_age_s": "0.2"})
    assert "state: acting" in s.text()
    s.agent["_age_s"] = "7.5"
    assert "state: stale (no report for 7.5 s; last: acting)" in s.text()
    s.early_exits["agent"] = -9
    assert "state: exited (code -9; last report: acting)" in s.text()
