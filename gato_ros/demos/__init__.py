"""Demonstrations: rosbag2 MCAP episodes (bag.py), expert generation (generate.py), management."""
