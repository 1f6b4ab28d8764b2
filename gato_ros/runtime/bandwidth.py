"""Machine memory bandwidth and the per-control-step memory-bandwidth bound of a cached Gato policy."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np


def measure_bandwidth(mbytes: int = 256, repeats: int = 7) -> float:
    """Bytes/s of a large numpy copy (read + write counted), best of `repeats` (one thread)."""
    src = np.ones(mbytes * 2 ** 20 // 8, np.float64)
    dst = np.empty_like(src)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t0)
    return 2 * src.nbytes / best


def streamed_weight_bytes(onnx_path: str | Path) -> int:
    """Bytes of initializers a forward pass streams: all except tables only read by Gather (embedding rows)."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(onnx_path))
    users: dict[str, set[str]] = {}
    for node in model.graph.node:
        for name in node.input:
            users.setdefault(name, set()).add(node.op_type)
    total = 0
    for init in model.graph.initializer:
        if users.get(init.name, set()) <= {"Gather"} and init.name in users:
            continue
        total += numpy_helper.to_array(init).nbytes
    return total


def step_bound_s(weight_bytes: int, cache_bytes_per_token: int, context: int, passes: int, bandwidth: float) -> float:
    """Seconds per control step if each of `passes` forward passes only read the weights and a `context`-token cache."""
    return passes * (weight_bytes + cache_bytes_per_token * context) / bandwidth
