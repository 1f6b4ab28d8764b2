"""`gato-ros train`: the dataset mixture (data.py), its YAML (config.py) and the loop (loop.py)."""
