"""ONNX Runtime execution of the prefill/decode graphs over KV-cache buffers that are written in place.

The cache is two preallocated buffers of fixed capacity C (keys [L, 1, H, hd, C], stored transposed, and values
[L, 1, H, C, hd]); each graph input past_k_i / past_v_i is bound to layer i's slab by pointer, so no call
copies the cache. A graph returns only its new tokens' keys/values, which are written at the end of the used
slots. Attention has no absolute positions (Gato's positions are in the embeddings), so the order of cached
tokens does not matter: evicting a timestep moves the newest tokens into its slots (a few dozen tokens)
instead of shifting the whole cache. `CacheSlots` keeps the logical order (prompt, then timesteps).

On the CPU the buffers are numpy arrays updated by numpy; on CUDA they are OrtValues updated in place on the device
by two small graphs (write, move: ScatterElements bound to the buffers' own memory). Either way the buffers never
move, so the decode pass's binding (inputs, cache slabs, outputs) is made once and reused for every token.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import onnxruntime as ort
from onnx import TensorProto, helper

from gato_ros.runtime.errors import ContextOverflowError
from gato_ros.runtime.model_files import cache_input_names
from gato_ros.runtime.providers import session_options
from gato_ros.tokenizer.sequence import TokenSequence

K_AXIS, V_AXIS = 4, 3  # token axis of the key and value buffers


class CacheSlots:
    """Which buffer slot holds each cached token, in logical order; slots 0..length-1 are always the ones used."""

    def __init__(self, capacity: int) -> None:
        self.capacity = int(capacity)
        self.slots = np.zeros(0, np.int64)

    @property
    def length(self) -> int:
        return int(self.slots.size)

    def append(self, n: int) -> int:
        """Reserve n slots at the end; returns the first (the new tokens go to slots [start, start + n))."""
        start = self.length
        if start + n > self.capacity:
            raise ContextOverflowError(f"{n} new tokens after {start} cached exceed the cache capacity {self.capacity}")
        self.slots = np.concatenate([self.slots, np.arange(start, start + n)])
        return start

    def truncate(self, n: int) -> None:
        """Keep the first n tokens (a prompt prefix: never moved by evict, so it sits in slots 0..n-1)."""
        if n > self.length or not np.array_equal(self.slots[:n], np.arange(n)):
            raise RuntimeError(f"cannot truncate the cache to {n} tokens: not an unmoved prefix")
        self.slots = self.slots[:n]

    def evict(self, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        """Drop logical tokens [start, end); returns (holes, movers): copy slot movers[i] into holes[i]."""
        freed, keep = self.slots[start:end], np.concatenate([self.slots[:start], self.slots[end:]])
        n = keep.size
        holes, movers = np.sort(freed[freed < n]), np.sort(keep[keep >= n])
        remap = np.arange(self.capacity)
        remap[movers] = holes
        self.slots = remap[keep]
        return holes, movers


class NumpyBuffers:
    """CPU cache: numpy arrays that the graphs read in place; writes and moves are numpy assignments."""

    device = "cpu"

    def __init__(self, n_layer: int, n_head: int, head_dim: int, capacity: int) -> None:
        self.k = np.zeros((n_layer, 1, n_head, head_dim, capacity), np.float32)
        self.v = np.zeros((n_layer, 1, n_head, capacity, head_dim), np.float32)

    def layer_ptrs(self) -> tuple[list[int], list[int]]:
        k0, v0 = self.k.ctypes.data, self.v.ctypes.data
        return [k0 + i * self.k[0].nbytes for i in range(len(self.k))], \
            [v0 + i * self.v[0].nbytes for i in range(len(self.v))]

    def write(self, new_k: np.ndarray, new_v: np.ndarray, start: int) -> None:
        """new_k, new_v [L, 1, H, S, hd] into slots [start, start + S)."""
        n = new_k.shape[3]
        self.k[..., start:start + n] = new_k.transpose(0, 1, 2, 4, 3)
        self.v[:, :, :, start:start + n] = new_v

    def move(self, holes: np.ndarray, movers: np.ndarray) -> None:
        """Copy slots movers -> holes as a few contiguous slice copies (an evicted timestep is usually one run)."""
        breaks = np.flatnonzero((np.diff(holes) != 1) | (np.diff(movers) != 1)) + 1
        for lo, hi in zip(np.concatenate([[0], breaks]), np.concatenate([breaks, [holes.size]])):
            n = hi - lo
            dst, src = slice(int(holes[lo]), int(holes[lo]) + n), slice(int(movers[lo]), int(movers[lo]) + n)
            self.k[..., dst] = self.k[..., src]
            self.v[:, :, :, dst] = self.v[:, :, :, src]

    def host(self) -> tuple[np.ndarray, np.ndarray]:
        return self.k, self.v


def _update_graphs() -> tuple[bytes, bytes]:
    """(write, move) graphs over whole buffers K [L,1,H,hd,C] and V [L,1,H,C,hd] for device-resident caches.

    Both end in ScatterElements, whose output the caller binds to the input buffer's own memory: ONNX Runtime's
    kernel skips its input -> output copy when the two are the same buffer, so the update is in place and costs
    only the scattered tokens (never a full-buffer copy). write: new_k/new_v [L,1,H,S,hd] into slots
    [pos, pos + S). move: slots `movers` copied into slots `holes` (gathered first, then scattered: disjoint).
    """
    f, i64 = TensorProto.FLOAT, TensorProto.INT64
    consts = [helper.make_tensor("one", i64, [], [1]), helper.make_tensor("ka", i64, [1], [K_AXIS]),
              helper.make_tensor("va", i64, [1], [V_AXIS]), helper.make_tensor("k_row", i64, [5], [1, 1, 1, 1, -1]),
              helper.make_tensor("v_row", i64, [5], [1, 1, 1, -1, 1])]

    def scatter(buf: str, slots: str, updates: str, axis: int) -> list:
        """buf[..., slots[j], ...] = updates[..., j, ...] along `axis`, the slot index broadcast over the rest."""
        row = "k_row" if axis == K_AXIS else "v_row"
        return [helper.make_node("Reshape", [slots, row], [f"{buf}_slots"]),
                helper.make_node("Shape", [updates], [f"{buf}_upd_shape"]),
                helper.make_node("Expand", [f"{buf}_slots", f"{buf}_upd_shape"], [f"{buf}_idx"]),
                helper.make_node("ScatterElements", [buf, f"{buf}_idx", updates], [f"{buf}_out"], axis=axis)]

    nodes = [helper.make_node("Shape", ["new_v"], ["nv_shape"]),
             helper.make_node("Gather", ["nv_shape", "va"], ["n_new1"], axis=0),
             helper.make_node("Squeeze", ["n_new1"], ["n_new"]),
             helper.make_node("Squeeze", ["pos"], ["pos0"]),
             helper.make_node("Add", ["pos0", "n_new"], ["end"]),
             helper.make_node("Range", ["pos0", "end", "one"], ["slots"]),
             helper.make_node("Transpose", ["new_k"], ["new_kt"], perm=[0, 1, 2, 4, 3])]
    nodes += scatter("K", "slots", "new_kt", K_AXIS) + scatter("V", "slots", "new_v", V_AXIS)
    io = [helper.make_tensor_value_info(n, f, None) for n in ("K", "V", "new_k", "new_v")]
    outs = [helper.make_tensor_value_info(n, f, None) for n in ("K_out", "V_out")]
    write = helper.make_graph(nodes, "cache_write", io + [helper.make_tensor_value_info("pos", i64, [1])], outs, consts)
    move_nodes = [helper.make_node("Gather", ["K", "movers"], ["K_moved"], axis=K_AXIS),
                  helper.make_node("Gather", ["V", "movers"], ["V_moved"], axis=V_AXIS)]
    move_nodes += scatter("K", "holes", "K_moved", K_AXIS) + scatter("V", "holes", "V_moved", V_AXIS)
    move = helper.make_graph(move_nodes, "cache_move", io[:2] + [helper.make_tensor_value_info(n, i64, ["N"])
                                                                 for n in ("holes", "movers")], outs, consts)
    out = []
    for graph in (write, move):
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        out.append(model.SerializeToString())
    return out[0], out[1]


class OrtValueBuffers:
    """Device cache (CUDA): two OrtValues allocated once, updated in place by the write/move graphs (their outputs
    are bound to the buffers' own memory), so their addresses never change and bindings made once stay valid."""

    def __init__(self, n_layer: int, n_head: int, head_dim: int, capacity: int, device: str) -> None:
        self.device, self.capacity = device, capacity
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if device == "cuda" else ["CPUExecutionProvider"]
        write, move = _update_graphs()
        self.write_sess = ort.InferenceSession(write, sess_options=session_options(), providers=providers)
        self.move_sess = ort.InferenceSession(move, sess_options=session_options(), providers=providers)
        zeros = NumpyBuffers(n_layer, n_head, head_dim, capacity)
        self.k, self.v = (ort.OrtValue.ortvalue_from_numpy(a, device, 0) for a in (zeros.k, zeros.v))
        self.shapes = (list(zeros.k.shape), list(zeros.v.shape))
        self.layer_bytes = (zeros.k[0].nbytes, zeros.v[0].nbytes)
        self.n_layer = n_layer

    def layer_ptrs(self) -> tuple[list[int], list[int]]:
        k0, v0 = self.k.data_ptr(), self.v.data_ptr()
        return [k0 + i * self.layer_bytes[0] for i in range(self.n_layer)], \
            [v0 + i * self.layer_bytes[1] for i in range(self.n_layer)]

    def new_values(self, n_new: int) -> tuple[ort.OrtValue, ort.OrtValue]:
        """Device OrtValues for a graph's new_k/new_v of n_new tokens (bound as outputs, then written)."""
        shape = [self.n_layer, 1, self.shapes[1][2], n_new, self.shapes[1][4]]
        return tuple(ort.OrtValue.ortvalue_from_shape_and_type(shape, np.float32, self.device, 0) for _ in range(2))

    def _run(self, sess: ort.InferenceSession, feeds: dict[str, object]) -> None:
        """Run an update graph with K_out/V_out bound to K/V's own memory: in place."""
        binding = sess.io_binding()
        for name, value in feeds.items():
            if isinstance(value, ort.OrtValue):
                binding.bind_ortvalue_input(name, value)
            else:
                binding.bind_cpu_input(name, value)
        for name, buf, shape in (("K_out", self.k, self.shapes[0]), ("V_out", self.v, self.shapes[1])):
            binding.bind_output(name, self.device, 0, np.float32, shape, buf.data_ptr())
        sess.run_with_iobinding(binding)

    def write(self, new_k: ort.OrtValue, new_v: ort.OrtValue, start: int) -> None:
        self._run(self.write_sess, {"K": self.k, "V": self.v, "new_k": new_k, "new_v": new_v,
                                    "pos": np.array([start], np.int64)})

    def move(self, holes: np.ndarray, movers: np.ndarray) -> None:
        self._run(self.move_sess, {"K": self.k, "V": self.v, "holes": np.asarray(holes, np.int64),
                                   "movers": np.asarray(movers, np.int64)})

    def host(self) -> tuple[np.ndarray, np.ndarray]:
        return self.k.numpy(), self.v.numpy()


def block_inputs(block: TokenSequence) -> dict[str, np.ndarray]:
    """Prefill feeds of a token block: only the image tokens' patches go to the ResNet (`source` gathers them)."""
    image = block.is_image
    n = len(block)
    source = np.where(image, n + np.cumsum(image) - 1, np.arange(n)).astype(np.int64)
    if image.any():
        patches, patch_pos = block.patches[image], block.patch_pos[image]
    else:  # a block without an image: one unused zero patch keeps the graph's shapes non-empty
        patches, patch_pos = np.zeros((1, *block.patches.shape[1:]), np.float32), np.zeros((1, 4), np.float32)
    return {"tokens": np.asarray(block.tokens, np.int64)[None], "modality": np.asarray(block.modality, np.int64)[None],
            "local_pos": np.asarray(block.local_pos, np.int64)[None],
            "patches": np.ascontiguousarray(patches, np.float32)[None],
            "patch_pos": np.ascontiguousarray(patch_pos, np.float32)[None], "source": source}


class KVRunner:
    """Runs the graphs on one provider over a fixed-capacity cache; owns the buffers and the slot map."""

    def __init__(self, prefill: ort.InferenceSession, decode: ort.InferenceSession, provider: str,
                 cache_dims: tuple[int, int, int], capacity: int, n_logits: int = 1024,
                 device_buffers: bool | None = None) -> None:
        self.prefill_sess, self.decode_sess = prefill, decode
        self.device = "cuda" if provider == "cuda" else "cpu"
        self.n_layer, self.n_head, self.head_dim = cache_dims
        self.capacity = int(capacity)
        self.slots = CacheSlots(self.capacity)
        on_device = self.device == "cuda" if device_buffers is None else device_buffers
        self.buffers = (OrtValueBuffers(*cache_dims, self.capacity, self.device) if on_device
                        else NumpyBuffers(*cache_dims, self.capacity))
        self.names = cache_input_names(self.n_layer)
        self.k_shape = [1, self.n_head, self.head_dim, self.capacity]
        self.v_shape = [1, self.n_head, self.capacity, self.head_dim]
        # decode I/O that never changes shape: host arrays bound once by pointer, refilled in place
        self._token = np.zeros((1, 1), np.int64)
        self._local_pos = np.zeros((1, 1), np.int64)
        self._past_len = np.zeros((), np.int64)
        self.n_logits = int(n_logits)
        self._logits = np.zeros((1, self.n_logits), np.float32)
        self._decode_binding: ort.IOBinding | None = None

    @property
    def length(self) -> int:
        """Tokens in the cache."""
        return self.slots.length

    def truncate(self, n: int) -> None:
        """Forget everything after the first n tokens (the pinned prompt): O(1), nothing is copied."""
        self.slots.truncate(n)

    def _bind_cache(self, binding: ort.IOBinding) -> None:
        k_ptrs, v_ptrs = self.buffers.layer_ptrs()
        dev = self.buffers.device
        for name, ptr in zip(self.names, k_ptrs + v_ptrs):
            shape = self.k_shape if name.startswith("past_k") else self.v_shape
            binding.bind_input(name, dev, 0, np.float32, shape, ptr)

    def _bind_outputs(self, binding: ort.IOBinding, n_new: int) -> tuple[Any, Any]:
        """new_k/new_v bound to arrays of n_new tokens, returned: host numpy arrays on the CPU path, device
        OrtValues on the device path (the cache update then never leaves the device)."""
        if isinstance(self.buffers, NumpyBuffers):
            shape = (self.n_layer, 1, self.n_head, n_new, self.head_dim)
            new: tuple[Any, Any] = (np.empty(shape, np.float32), np.empty(shape, np.float32))
            for name, arr in zip(("new_k", "new_v"), new):
                binding.bind_output(name, "cpu", 0, np.float32, list(shape), arr.ctypes.data)
            return new
        new = self.buffers.new_values(n_new)
        for name, value in zip(("new_k", "new_v"), new):
            binding.bind_ortvalue_output(name, value)
        return new

    def _finish(self, new: tuple[Any, Any], n_new: int) -> None:
        start = self.slots.append(n_new)
        self.buffers.write(*new, start)

    def prefill(self, block: TokenSequence) -> np.ndarray:
        """Append a block of tokens; returns the value logits of the token after its last (the next action)."""
        n_new = len(block)
        if self.length + n_new > self.capacity:
            raise ContextOverflowError(f"{n_new} new tokens after {self.length} cached exceed the cache capacity "
                                       f"{self.capacity}")
        binding = self.prefill_sess.io_binding()
        feeds = block_inputs(block)
        feeds["past_len"] = np.array(self.length, np.int64)
        for name, array in feeds.items():
            binding.bind_cpu_input(name, array)
        self._bind_cache(binding)
        logits = np.zeros((1, self.n_logits), np.float32)
        binding.bind_output("logits", "cpu", 0, np.float32, [1, self.n_logits], logits.ctypes.data)
        new = self._bind_outputs(binding, n_new)
        self.prefill_sess.run_with_iobinding(binding)
        self._finish(new, n_new)
        return logits[0]

    def decode(self, token_id: int, local_pos: int) -> np.ndarray:
        """Append one action token (id, and its dimension position as the tokenizer's action block gives it, -1 for
        none); returns the next token's logits. The hot path: its inputs are bound once, so it takes scalars."""
        if self.length + 1 > self.capacity:
            raise ContextOverflowError(f"the cache is full ({self.capacity} tokens)")
        self._token[0, 0], self._local_pos[0, 0], self._past_len[()] = token_id, local_pos, self.length
        binding = self._decode_binding
        if binding is None:  # the buffers never move (host or device): bind once, refill the scalars in place
            binding = self.decode_sess.io_binding()
            binding.bind_input("token", "cpu", 0, np.int64, [1, 1], self._token.ctypes.data)
            binding.bind_input("local_pos", "cpu", 0, np.int64, [1, 1], self._local_pos.ctypes.data)
            binding.bind_input("past_len", "cpu", 0, np.int64, [], self._past_len.ctypes.data)
            binding.bind_output("logits", "cpu", 0, np.float32, [1, self.n_logits], self._logits.ctypes.data)
            self._bind_cache(binding)
            self._decode_new = self._bind_outputs(binding, 1)
            self._decode_binding = binding
        self.decode_sess.run_with_iobinding(binding)
        self._finish(self._decode_new, 1)
        return self._logits[0].copy()

    def evict(self, start: int, end: int) -> None:
        """Drop logical cache positions [start, end) (whole timesteps; the caller keeps the prompt)."""
        if end <= start:
            return
        holes, movers = self.slots.evict(start, end)
        if holes.size:
            self.buffers.move(holes, movers)

    def cache_numpy(self) -> tuple[np.ndarray, np.ndarray]:
        """Host copies of the cache in logical order, as [L, 1, H, T, hd] keys and values (tests, debugging)."""
        k, v = self.buffers.host()
        return np.ascontiguousarray(k[..., self.slots.slots].transpose(0, 1, 2, 4, 3)), \
            np.ascontiguousarray(v[:, :, :, self.slots.slots])


__all__ = ["KVRunner", "CacheSlots", "NumpyBuffers", "OrtValueBuffers", "block_inputs"]
