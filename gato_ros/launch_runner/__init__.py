"""The stacking node graph described once (graph.py), started by launch/stacking.launch.py or by the runner."""
