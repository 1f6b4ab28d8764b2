"""Thin rclpy adapters (one executable each) over the pure logic of gato_ros."""
