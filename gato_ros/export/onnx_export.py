"""Write a model directory: prefill.onnx + decode.onnx (optionally int8), gato.json and the SentencePiece model."""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gato_ros.export.graphs import (
    ACTION_VOCAB_SIZE, ACTION_VOCAB_START, DECODE_INPUTS, OUTPUTS, PATCH, PREFILL_INPUTS, DecodeGraph,
    PrefillGraph, cache_shape, empty_cache,
)

OPSET = 17
PREFILL_FILE = "prefill.onnx"
DECODE_FILE = "decode.onnx"


class ExportError(Exception):
    """The model or its files cannot be exported."""


def _dynamic_axes(inputs: tuple[str, ...], seq_inputs: tuple[str, ...]) -> dict[str, dict[int, str]]:
    axes: dict[str, dict[int, str]] = {name: {1: "seq"} for name in seq_inputs}
    axes.update({"past_k": {3: "past"}, "past_v": {3: "past"}, "present_k": {3: "total"},
                 "present_v": {3: "total"}})
    return {k: v for k, v in axes.items() if k in inputs or k in OUTPUTS}


def export_graphs(model: nn.Module, out_dir: Path, opset: int = OPSET) -> dict[str, Any]:
    """Export the prefill and decode graphs of `model` (eval mode, fp32) into `out_dir`; returns their metadata."""
    model = model.eval().float()
    n_layer, n_head, head_dim = cache_shape(model)
    past = empty_cache(n_layer, n_head, head_dim, length=3)
    seq = 5
    prefill_args = (
        torch.zeros(1, seq, dtype=torch.long), torch.zeros(1, seq, dtype=torch.long),
        torch.arange(seq, dtype=torch.long)[None], torch.zeros(1, seq, 3, PATCH, PATCH),
        torch.zeros(1, seq, 4), past, past.clone(),
    )
    decode_args = (torch.full((1, 1), ACTION_VOCAB_START, dtype=torch.long), past, past.clone())
    out_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation and tracer warnings
        for graph, args, names, seq_names, file in (
            (PrefillGraph(model), prefill_args, PREFILL_INPUTS, PREFILL_INPUTS[:5], PREFILL_FILE),
            (DecodeGraph(model), decode_args, DECODE_INPUTS, (), DECODE_FILE),
        ):
            torch.onnx.export(graph, args, str(out_dir / file), input_names=list(names), output_names=list(OUTPUTS),
                              dynamic_axes=_dynamic_axes(names, seq_names), opset_version=opset, dynamo=False,
                              do_constant_folding=True)
    return {"prefill": PREFILL_FILE, "decode": DECODE_FILE, "precision": "fp32", "opset": opset,
            "n_layer": n_layer, "n_head": n_head, "head_dim": head_dim, "patch_size": PATCH,
            "action_vocab_start": ACTION_VOCAB_START, "action_vocab_size": ACTION_VOCAB_SIZE,
            "inputs": {"prefill": list(PREFILL_INPUTS), "decode": list(DECODE_INPUTS)}, "outputs": list(OUTPUTS)}


def quantize_int8(out_dir: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """Dynamic int8 quantization (weights int8, activations quantized on the fly) of both graphs, in place."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    for key in ("prefill", "decode"):
        path = out_dir / meta[key]
        with tempfile.TemporaryDirectory() as tmp:
            q = Path(tmp) / path.name
            quantize_dynamic(str(path), str(q), weight_type=QuantType.QInt8)
            shutil.move(str(q), path)
    return {**meta, "precision": "int8"}


def model_config_dict(model_cfg: Any) -> dict[str, Any]:
    """The model's frozen config as a plain dict for gato.json."""
    if dataclasses.is_dataclass(model_cfg):
        return dataclasses.asdict(model_cfg)
    return dict(model_cfg or {})


def write_model_dir(model: nn.Module, config: Any, out_dir: Path, *, int8: bool = False,
                    sp_model: Path | None = None, model_cfg: Any = None) -> Path:
    """Export graphs, write gato.json (config + graph metadata) and copy the SentencePiece model to `out_dir`."""
    out_dir = Path(out_dir)
    meta = export_graphs(model, out_dir)
    if int8:
        meta = quantize_int8(out_dir, meta)
    model_dict = {**dict(getattr(config, "model", {}) or {}), **model_config_dict(model_cfg), "onnx": meta}
    config = dataclasses.replace(config, model=model_dict)
    if sp_model is not None:
        sp_model = Path(sp_model)
        if not sp_model.is_file():
            raise ExportError(f"SentencePiece model {sp_model} not found")
        rel = Path(getattr(getattr(config, "tokenizer", None), "text_model", "") or sp_model.name)
        dest = out_dir / rel  # where GatoTokenizer(config, out_dir) looks for it
        dest.parent.mkdir(parents=True, exist_ok=True)
        if sp_model.resolve() != dest.resolve():
            shutil.copyfile(sp_model, dest)
            vocab = sp_model.with_suffix(".vocab")
            if vocab.is_file():
                shutil.copyfile(vocab, dest.with_suffix(".vocab"))
    config.save(out_dir / "gato.json")
    return out_dir
