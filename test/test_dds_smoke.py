"""rclpy from the PyPI wheels passes one JointState through real DDS (localhost, unique domain)."""

import time

import pytest

pytestmark = pytest.mark.ros


def test_joint_state_round_trip_over_dds(ros_env):
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from sensor_msgs.msg import JointState

    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        pub_node = rclpy.create_node("smoke_pub", context=context)
        sub_node = rclpy.create_node("smoke_sub", context=context)
        received: list[JointState] = []
        sub_node.create_subscription(JointState, "/joint_states", received.append, 10)
        pub = pub_node.create_publisher(JointState, "/joint_states", 10)
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(pub_node)
        executor.add_node(sub_node)
        msg = JointState(name=["right_j0", "gripper_joint"], position=[0.5, 0.1], velocity=[-1.0, 0.0],
                         effort=[3.0, 0.0])
        msg.header.frame_id = "base"
        msg.header.stamp.sec, msg.header.stamp.nanosec = 12, 345
        deadline = time.monotonic() + 15.0
        while not received and time.monotonic() < deadline:
            pub.publish(msg)
            executor.spin_once(timeout_sec=0.1)
        assert received, "no JointState arrived over DDS within 15 s"
        got = received[0]
        assert list(got.name) == ["right_j0", "gripper_joint"]
        assert list(got.position) == [0.5, 0.1] and list(got.velocity) == [-1.0, 0.0]
        assert list(got.effort) == [3.0, 0.0] and got.header.frame_id == "base"
        assert (got.header.stamp.sec, got.header.stamp.nanosec) == (12, 345)
        executor.shutdown()
        pub_node.destroy_node()
        sub_node.destroy_node()
    finally:
        rclpy.shutdown(context=context)
