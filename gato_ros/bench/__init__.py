"""`gato-ros bench`: per-control-step latency of the runtime (latency.py: GatoPolicy fp32/int8 against PyTorch eager
with and without a KV cache) and the machine's bounds (bandwidth.py). Builds models with gato_ros.export; the
runtime itself never imports this package."""
