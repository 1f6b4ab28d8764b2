"""Load and check a model directory: gato.json, its `model.onnx` section, and the graphs it names."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnxruntime as ort

from gato_ros.runtime.errors import ModelLoadError

PREFILL_INPUTS = ("tokens", "modality", "local_pos", "patches", "patch_pos", "past_k", "past_v")
DECODE_INPUTS = ("token", "past_k", "past_v")
OUTPUTS = ("logits", "present_k", "present_v")


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
    try:
        return GraphMeta(**{k: section[k] for k in GraphMeta.__dataclass_fields__})
    except (KeyError, TypeError) as exc:
        raise ModelLoadError(f"{model_dir}/gato.json model.onnx section is incomplete: {exc}") from exc


def _shape(sess: ort.InferenceSession, name: str, outputs: bool = False) -> list:
    items = sess.get_outputs() if outputs else sess.get_inputs()
    return next(list(i.shape) for i in items if i.name == name)


def check_graphs(meta: GraphMeta, prefill: ort.InferenceSession, decode: ort.InferenceSession, model_dir: Path) -> None:
    """Raise ModelLoadError when a graph's inputs/outputs or cache shape disagree with gato.json."""
    for label, sess, names in (("prefill", prefill, PREFILL_INPUTS), ("decode", decode, DECODE_INPUTS)):
        got_in = tuple(i.name for i in sess.get_inputs())
        got_out = tuple(o.name for o in sess.get_outputs())
        if set(got_in) != set(names) or set(got_out) != set(OUTPUTS):
            raise ModelLoadError(f"{model_dir}/{getattr(meta, label)} has inputs {got_in} and outputs {got_out}; "
                                 f"expected {names} -> {OUTPUTS} (is this a gato_ros {label} graph?)")
        past = _shape(sess, "past_k")
        expect = [meta.n_layer, 1, meta.n_head, None, meta.head_dim]
        if len(past) != 5 or any(e is not None and p != e for p, e in zip(past, expect)):
            raise ModelLoadError(
                f"{model_dir}/gato.json says the cache is [n_layer={meta.n_layer}, 1, n_head={meta.n_head}, T, "
                f"head_dim={meta.head_dim}] but {getattr(meta, label)} takes past_k {past}; gato.json does not "
                "match the graph (re-export the model)")
        logits = _shape(sess, "logits", outputs=True)
        if logits[-1] != meta.action_vocab_size:
            raise ModelLoadError(f"{model_dir}/{getattr(meta, label)} returns {logits[-1]} logits but gato.json "
                                 f"says action_vocab_size={meta.action_vocab_size}")


def read_json(path: Path) -> dict:
    """Raw gato.json (tests and tools that edit it)."""
    return json.loads(Path(path).read_text())
