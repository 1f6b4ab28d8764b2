"""Agent inputs for models with the object-state observation (/sim/object_poses) and without the camera."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from gato_ros.agent import InputAge, ModelInputs, stale_reason


def test_model_inputs_from_tokenizer_config() -> None:
    assert ModelInputs.of(SimpleNamespace()) == ModelInputs(image=True, objects=False)  # formats before the fields
    assert ModelInputs.of(SimpleNamespace(use_image=False, object_state=True)) == ModelInputs(False, True)


def test_stale_reason_covers_what_the_model_needs() -> None:
    both = ModelInputs(image=True, objects=True)
    assert stale_reason(10.0, InputAge(9.9, 9.9, None), 0.5, 0.25, 0.25, both) == "no object poses received yet"
    assert "object poses stale" in stale_reason(10.0, InputAge(9.9, 9.9, 9.0), 0.5, 0.25, 0.25, both)
    assert stale_reason(10.0, InputAge(9.9, 9.9, 9.9), 0.5, 0.25, 0.25, both) is None
    no_camera = ModelInputs(image=False, objects=True)
    assert stale_reason(10.0, InputAge(None, 9.9, 9.9), 0.5, 0.25, 0.25, no_camera) is None  # camera not required
    assert stale_reason(10.0, InputAge(9.9, 9.9, None), 0.5, 0.25) is None  # image-only model ignores poses


class FakePolicy:
    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.context_tokens = 0
        self.provider = "fake"

    def act(self, image, proprio, instruction=None, objects=None, extents=None):
        self.calls.append((image, proprio, instruction, objects, extents))
        return np.zeros(8)

    def reset(self) -> None:
        pass


@pytest.mark.ros
def test_agent_node_passes_object_poses_and_does_not_need_the_camera(ros_env) -> None:
    """With trigger timer an object-state model acts without a camera; with trigger image the frames start the
    steps, so it waits for them and says so."""
    import rclpy
    from rclpy.context import Context
    from rclpy.parameter import Parameter
    from sensor_msgs.msg import JointState

    from gato_ros.agent.layout import JointLayout
    from gato_ros.agent.scheduling import InferenceWorker
    from gato_ros.interfaces import JOINT_NAMES
    from gato_ros.nodes.agent import AgentNode
    from gato_ros.nodes.sim import pose_array
    from gato_ros.interfaces import OBJECT_COLORS
    from gato_ros.observation import object_state_from_poses

    context = Context()
    rclpy.init(context=context)
    nodes = [AgentNode(context=context, parameter_overrides=[Parameter("trigger", value=trigger)])
             for trigger in ("timer", "image")]
    try:
        published = []
        for node in nodes:  # what configure + activate set up, with a policy that records its calls
            node._cmd_pub = SimpleNamespace(publish=lambda msg: published.append(list(msg.data)))
            node._policy, node._inputs = FakePolicy(), ModelInputs(image=False, objects=True)
            node._layout = JointLayout.match(list(JOINT_NAMES), list(JOINT_NAMES))
            node._worker, node._active = InferenceWorker(node._step), True

        def tick(node) -> None:
            node._tick()
            assert node._worker.wait_idle(5.0)

        node = nodes[0]
        node._on_joint_state(JointState(name=list(JOINT_NAMES), position=[0.1] * 8, velocity=[0.0] * 8))
        tick(node)
        assert not published and node._reason == "no object poses received yet"  # like a missing image
        rng = np.random.default_rng(0)
        state = object_state_from_poses({c: (rng.normal(size=3), rng.normal(size=4)) for c in OBJECT_COLORS})
        node._on_object_poses(pose_array(state, node.get_clock().now().to_msg()))
        tick(node)
        assert len(published) == 1 and node._reason == "acting"
        image, proprio, _, objects, _ = node._policy.calls[-1]
        assert image is None and proprio.shape == (15,) and np.allclose(objects, state)  # no camera needed
        bad = pose_array(state[:14], node.get_clock().now().to_msg())  # two poses: refused, reported
        node._on_object_poses(bad)
        tick(node)
        assert len(published) == 1 and node._reason.startswith("bad object poses")
        node._objects_t, node._objects_error = node._now() - 10.0, None  # stale poses: no action
        node._objects = state
        tick(node)
        assert len(published) == 1 and "object poses stale" in node._reason
        framed = nodes[1]  # trigger image: the same inputs, but no frame has come to start a step
        framed._on_joint_state(JointState(name=list(JOINT_NAMES), position=[0.1] * 8, velocity=[0.0] * 8))
        framed._on_object_poses(pose_array(state, framed.get_clock().now().to_msg()))
        framed._publish_diagnostics()
        assert len(published) == 1 and framed._reason == "no image received yet"
    finally:
        for node in nodes:
            node._worker.stop(5.0)
            node.destroy_node()
        rclpy.shutdown(context=context)


@pytest.mark.ros
def test_agent_node_waits_for_object_extents_and_refuses_bad_ones(ros_env) -> None:
    """A model with tokenizer.object_extents acts only once /sim/object_extents has come (latched, no staleness) and
    reports bad extents instead of acting on them."""
    import rclpy
    from rclpy.context import Context
    from rclpy.parameter import Parameter
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Float64MultiArray

    from gato_ros.agent.layout import JointLayout
    from gato_ros.agent.scheduling import InferenceWorker
    from gato_ros.interfaces import JOINT_NAMES, OBJECT_COLORS
    from gato_ros.nodes.agent import AgentNode
    from gato_ros.nodes.sim import pose_array
    from gato_ros.observation import object_state_from_poses

    context = Context()
    rclpy.init(context=context)
    node = AgentNode(context=context, parameter_overrides=[Parameter("trigger", value="timer")])
    try:
        published = []
        node._cmd_pub = SimpleNamespace(publish=lambda msg: published.append(list(msg.data)))
        node._policy, node._inputs = FakePolicy(), ModelInputs(image=False, objects=True, extents=True)
        node._layout = JointLayout.match(list(JOINT_NAMES), list(JOINT_NAMES))
        node._worker, node._active = InferenceWorker(node._step), True

        def tick() -> None:
            node._tick()
            assert node._worker.wait_idle(5.0)

        rng = np.random.default_rng(0)
        state = object_state_from_poses({c: (rng.normal(size=3), rng.normal(size=4)) for c in OBJECT_COLORS})
        node._on_joint_state(JointState(name=list(JOINT_NAMES), position=[0.1] * 8, velocity=[0.0] * 8))
        node._on_object_poses(pose_array(state, node.get_clock().now().to_msg()))
        tick()
        assert not published and node._reason == "no object extents received yet"
        sizes = np.linspace(0.02, 0.06, 9)
        node._on_object_extents(Float64MultiArray(data=sizes.tolist()))
        tick()
        assert len(published) == 1 and np.array_equal(node._policy.calls[-1][4], sizes)
        node._on_object_extents(Float64MultiArray(data=[0.02] * 8))  # a short message: refused, reported
        tick()
        assert len(published) == 1 and node._reason.startswith("bad object extents")
    finally:
        node._worker.stop(5.0)
        node.destroy_node()
        rclpy.shutdown(context=context)
