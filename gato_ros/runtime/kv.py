"""ONNX Runtime execution of the prefill/decode graphs with the KV cache kept as OrtValues on the device.

The present keys/values a graph returns become the next call's past without a host round trip (IO binding,
on CPU and CUDA alike); eviction of a cache range runs as a small ONNX graph on the same device.
"""

from __future__ import annotations

import numpy as np

import onnxruntime as ort
from onnx import TensorProto, helper

from gato_ros.runtime.providers import session_options


def _evict_graph() -> bytes:
    """cache[..., :start, :] ++ cache[..., end:, :] along axis 3, for k and v at once."""
    nodes, outputs = [], []
    zero, axis, big = "zero", "axis", "big"
    for name in ("k", "v"):
        nodes += [
            helper.make_node("Slice", [name, zero, "start", axis], [f"{name}_head"]),
            helper.make_node("Slice", [name, "end", big, axis], [f"{name}_tail"]),
            helper.make_node("Concat", [f"{name}_head", f"{name}_tail"], [f"{name}_out"], axis=3),
        ]
        outputs.append(helper.make_tensor_value_info(f"{name}_out", TensorProto.FLOAT, None))
    inits = [helper.make_tensor(zero, TensorProto.INT64, [1], [0]), helper.make_tensor(axis, TensorProto.INT64, [1], [3]),
             helper.make_tensor(big, TensorProto.INT64, [1], [2 ** 62])]
    cache = ["L", 1, "H", "T", "D"]
    inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, cache) for n in ("k", "v")]
    inputs += [helper.make_tensor_value_info(n, TensorProto.INT64, [1]) for n in ("start", "end")]
    graph = helper.make_graph(nodes, "evict", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


class KVRunner:
    """Runs the graphs on one provider and owns the cache (past_k, past_v) between calls."""

    def __init__(self, prefill: ort.InferenceSession, decode: ort.InferenceSession, provider: str,
                 cache_dims: tuple[int, int, int]) -> None:
        self.prefill_sess, self.decode_sess = prefill, decode
        self.device = "cuda" if provider == "cuda" else "cpu"
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if self.device == "cuda" else ["CPUExecutionProvider"]
        self.evict_sess = ort.InferenceSession(_evict_graph(), sess_options=session_options(), providers=providers)
        self.n_layer, self.n_head, self.head_dim = cache_dims
        self.k = self.v = self._value(np.zeros((self.n_layer, 1, self.n_head, 0, self.head_dim), np.float32))

    def _value(self, array: np.ndarray) -> ort.OrtValue:
        return ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(array), self.device, 0)

    @property
    def length(self) -> int:
        """Tokens in the cache."""
        return int(self.k.shape()[3])

    def snapshot(self) -> tuple[ort.OrtValue, ort.OrtValue]:
        """The current cache; safe to keep, since every call makes new OrtValues rather than writing in place."""
        return self.k, self.v

    def restore(self, cache: tuple[ort.OrtValue, ort.OrtValue]) -> None:
        self.k, self.v = cache

    def _run(self, sess: ort.InferenceSession, feeds: dict[str, np.ndarray]) -> np.ndarray:
        binding = sess.io_binding()
        for name, array in feeds.items():
            if self.device == "cpu":
                binding.bind_cpu_input(name, np.ascontiguousarray(array))
            else:
                binding.bind_ortvalue_input(name, self._value(array))
        binding.bind_ortvalue_input("past_k", self.k)
        binding.bind_ortvalue_input("past_v", self.v)
        binding.bind_output("logits", "cpu")
        binding.bind_output("present_k", self.device)
        binding.bind_output("present_v", self.device)
        sess.run_with_iobinding(binding)
        logits, self.k, self.v = binding.get_outputs()
        return logits.numpy()[0]

    def prefill(self, tokens: np.ndarray, modality: np.ndarray, local_pos: np.ndarray, patches: np.ndarray,
                patch_pos: np.ndarray) -> np.ndarray:
        """Append a block of L tokens (arrays with leading dim L); returns the next action token's logits."""
        return self._run(self.prefill_sess, {
            "tokens": tokens.astype(np.int64)[None], "modality": modality.astype(np.int64)[None],
            "local_pos": local_pos.astype(np.int64)[None], "patches": patches.astype(np.float32)[None],
            "patch_pos": patch_pos.astype(np.float32)[None]})

    def decode(self, token_id: int) -> np.ndarray:
        """Append one action token; returns the next action token's logits."""
        return self._run(self.decode_sess, {"token": np.array([[token_id]], np.int64)})

    def evict(self, start: int, end: int) -> None:
        """Drop cache positions [start, end)."""
        if end <= start:
            return
        binding = self.evict_sess.io_binding()
        binding.bind_ortvalue_input("k", self.k)
        binding.bind_ortvalue_input("v", self.v)
        binding.bind_cpu_input("start", np.array([start], np.int64))
        binding.bind_cpu_input("end", np.array([end], np.int64))
        binding.bind_output("k_out", self.device)
        binding.bind_output("v_out", self.device)
        self.evict_sess.run_with_iobinding(binding)
        self.k, self.v = binding.get_outputs()

    def cache_numpy(self) -> tuple[np.ndarray, np.ndarray]:
        """Host copies of the cache (tests, debugging)."""
        return self.k.numpy(), self.v.numpy()


def graph_inputs(sess: ort.InferenceSession) -> dict[str, list]:
    """Input name -> shape (ints or symbolic names) of a session."""
    return {i.name: list(i.shape) for i in sess.get_inputs()}


def graph_outputs(sess: ort.InferenceSession) -> dict[str, list]:
    return {o.name: list(o.shape) for o in sess.get_outputs()}


__all__ = ["KVRunner", "graph_inputs", "graph_outputs"]
