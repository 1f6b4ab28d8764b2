"""Machine limits and the per-control-step bounds of a cached Gato policy.

Bandwidth bound: every pass only streams the weights and the cache (the issue's definition). Roofline bound:
every pass takes max(bytes / bandwidth, FLOPs / measured GEMM throughput); it differs from the bandwidth bound
in the prefill, where a whole observation block (~33 tokens) meets each weight and the pass is compute-bound.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

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


def _matmul_model(n: int) -> bytes:
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.random.default_rng(0).normal(size=(n, n)).astype(np.float32), "W")
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "W"], ["y"])], "gemm",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n, n])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, n])], [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def measure_gemm_flops(int8: bool = False, threads: int = 0, n: int = 1024, repeats: int = 9) -> float:
    """FLOP/s of an n x n x n ONNX Runtime MatMul on the CPU (int8: dynamically quantized weights), best run."""
    import onnxruntime as ort

    from gato_ros.runtime.providers import session_options

    model = _matmul_model(n)
    if int8:
        import tempfile

        from onnxruntime.quantization import QuantType, quantize_dynamic

        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "f.onnx").write_bytes(model)
            quantize_dynamic(str(Path(tmp) / "f.onnx"), str(Path(tmp) / "q.onnx"), weight_type=QuantType.QInt8)
            model = (Path(tmp) / "q.onnx").read_bytes()
    sess = ort.InferenceSession(model, session_options(threads), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(1).normal(size=(n, n)).astype(np.float32)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        sess.run(None, {"x": x})
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best


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


def pass_flops(c: Any, n_new: int, n_patches: int, context: int) -> tuple[float, float]:
    """(weight-matmul FLOPs, other FLOPs: attention over `context` cached tokens + patch ResNet) of one pass.

    `c` is a GatoModelConfig; the head computes the 1024 value logits at the last position only.
    """
    d, inner, ch, p = c.n_embd, c.n_head * c.head_dim, c.patch_channels, c.patch_size
    per_token = c.n_layer * (3 * d * inner + inner * d + 2 * d * c.d_ff)
    linear = 2.0 * (n_new * per_token + d * 1024)
    attention = 2.0 * 2 * c.n_layer * inner * n_new * (context + n_new)
    pixels = p * p
    resnet = 2.0 * n_patches * (3 * ch * 9 * pixels + 2 * ch * ch * 9 * pixels + ch * ch * 16 * (pixels // 16)
                                + ch * (p // 4) ** 2 * d)
    return linear, attention + resnet


def roofline_step_s(c: Any, weight_bytes: int, cache_bytes_per_token: int, context: int, block: int, patches: int,
                    bandwidth: float, flops_linear: float, flops_other: float, decodes: int) -> float:
    """Seconds per control step (one prefill of `block` tokens + `decodes` single-token passes) on a roofline:
    each pass takes the longer of streaming its bytes and computing its FLOPs at the measured GEMM throughputs."""
    total = 0.0
    for n_new, n_patch in [(block, patches)] + [(1, 0)] * decodes:
        linear, other = pass_flops(c, n_new, n_patch, context)
        total += max((weight_bytes + cache_bytes_per_token * context) / bandwidth,
                     linear / flops_linear + other / flops_other)
    return total
