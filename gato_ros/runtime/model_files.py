"""Load and check a model directory: gato.json, its `model.onnx` section, and the graphs it names."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnxruntime as ort

from gato_ros.runtime.errors import ModelLoadError

PREFILL_INPUTS = ("tokens", "modality", "local_pos", "patches", "patch_pos", "source", "past_len")  # then buffers
DECODE_INPUTS = ("token", "local_pos", "past_len")  # then the cache buffers
OUTPUTS = ("logits", "new_k", "new_v")
GRAPH_FORMAT = "gato_ros.kv_buffers.v3"  # v3: action-dimension positions (v2 had none; v1 concatenated the cache)


def cache_input_names(n_layer: int) -> tuple[str, ...]:
    """Per-layer cache buffer inputs: past_k_0..past_k_{L-1} [1, H, hd, C], then past_v_0.. [1, H, C, hd]."""
    return tuple(f"past_k_{i}" for i in range(n_layer)) + tuple(f"past_v_{i}" for i in range(n_layer))


@dataclass(frozen=True)
class GraphMeta:
    """What gato.json says about the exported graphs."""

    prefill: str
    decode: str
    precision: str
    n_layer: int
    n_head: int
    head_dim: int
    action_vocab_start: int
    action_vocab_size: int

    @property
    def cache_dims(self) -> tuple[int, int, int]:
        return self.n_layer, self.n_head, self.head_dim


def load_config(model_dir: Path) -> Any:
    """GatoConfig from `model_dir/gato.json`, with ModelLoadError for a missing or unreadable file."""
    path = Path(model_dir) / "gato.json"
    if not Path(model_dir).is_dir():
        raise ModelLoadError(f"model directory {model_dir} does not exist")
    if not path.is_file():
        raise ModelLoadError(f"{path} is missing (a model directory is made by `gato-ros export`)")
    from gato_ros.config import GatoConfig

    try:
        return GatoConfig.load(path)
    except Exception as exc:
        raise ModelLoadError(f"{path} is not a valid gato.json: {type(exc).__name__}: {exc}") from exc


def graph_meta(config: Any, model_dir: Path) -> GraphMeta:
    """The `model.onnx` section of gato.json as GraphMeta."""
    section = (getattr(config, "model", None) or {}).get("onnx")
    if not isinstance(section, dict):
        raise ModelLoadError(f"{model_dir}/gato.json has no model.onnx section; re-export with `gato-ros export`")
    if section.get("format") != GRAPH_FORMAT:
        raise ModelLoadError(f"{model_dir} holds graphs of format {section.get('format', 'v1 (concatenated cache)')!r}"
                             f"; this runtime runs {GRAPH_FORMAT!r}: re-export the checkpoint with `gato-ros export`")
    try:
        return GraphMeta(**{k: section[k] for k in GraphMeta.__dataclass_fields__})
    except (KeyError, TypeError) as exc:
        raise ModelLoadError(f"{model_dir}/gato.json model.onnx section is incomplete: {exc}") from exc


def _shape(sess: ort.InferenceSession, name: str, outputs: bool = False) -> list:
    items = sess.get_outputs() if outputs else sess.get_inputs()
    return next(list(i.shape) for i in items if i.name == name)


def check_graphs(meta: GraphMeta, prefill: ort.InferenceSession, decode: ort.InferenceSession, model_dir: Path) -> None:
    """Raise ModelLoadError when a graph's inputs/outputs or cache shape disagree with gato.json."""
    caches = cache_input_names(meta.n_layer)
    for label, sess, names in (("prefill", prefill, PREFILL_INPUTS), ("decode", decode, DECODE_INPUTS)):
        got_in = tuple(i.name for i in sess.get_inputs())
        got_out = tuple(o.name for o in sess.get_outputs())
        if set(got_out) != set(OUTPUTS) or not set(names) <= set(got_in):
            raise ModelLoadError(f"{model_dir}/{getattr(meta, label)} has inputs {got_in} and outputs {got_out}; "
                                 f"expected {names} + cache buffers -> {OUTPUTS} (is this a gato_ros {label} graph?)")
        shapes = {n: _shape(sess, n) for n in got_in if n.startswith("past_") and n != "past_len"}
        expect_k, expect_v = [1, meta.n_head, meta.head_dim, None], [1, meta.n_head, None, meta.head_dim]
        ok = set(shapes) == set(caches) and all(
            len(s) == 4
            and all(e is None or d == e for d, e in zip(s, expect_k if n.startswith("past_k") else expect_v))
            for n, s in shapes.items())
        if not ok:
            raise ModelLoadError(
                f"{model_dir}/gato.json says the cache is n_layer={meta.n_layer} layers of keys "
                f"[1, n_head={meta.n_head}, head_dim={meta.head_dim}, C] and values "
                f"[1, {meta.n_head}, C, {meta.head_dim}] but "
                f"{getattr(meta, label)} takes {shapes}; gato.json does not match the graph (re-export the model)")
        logits = _shape(sess, "logits", outputs=True)
        if logits[-1] != meta.action_vocab_size:
            raise ModelLoadError(f"{model_dir}/{getattr(meta, label)} returns {logits[-1]} logits but gato.json "
                                 f"says action_vocab_size={meta.action_vocab_size}")

