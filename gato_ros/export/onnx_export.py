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
    ACTION_VOCAB_SIZE, ACTION_VOCAB_START, PATCH, DecodeGraph, PrefillGraph, cache_shape, empty_buffers,
)
from gato_ros.runtime.model_files import DECODE_INPUTS, GRAPH_FORMAT, OUTPUTS, PREFILL_INPUTS, cache_input_names

OPSET = 17
PREFILL_FILE = "prefill.onnx"
DECODE_FILE = "decode.onnx"


class ExportError(Exception):
    """The model or its files cannot be exported."""


def _dynamic_axes(names: tuple[str, ...], n_layer: int) -> dict[str, dict[int, str]]:
    """Block length S, image patches P and buffer capacity C are free; everything else is fixed."""
    axes: dict[str, dict[int, str]] = {"tokens": {1: "S"}, "modality": {1: "S"}, "local_pos": {1: "S"},
                                       "source": {0: "S"},
                                       "patches": {1: "P"}, "patch_pos": {1: "P"},
                                       "new_k": {3: "S"}, "new_v": {3: "S"}}
    axes.update({f"past_k_{i}": {3: "C"} for i in range(n_layer)})
    axes.update({f"past_v_{i}": {2: "C"} for i in range(n_layer)})
    return {k: v for k, v in axes.items() if k in names or (k in OUTPUTS and "tokens" in names)}


def export_graphs(model: nn.Module, out_dir: Path, opset: int = OPSET) -> dict[str, Any]:
    """Export the prefill and decode graphs of `model` (eval mode, fp32) into `out_dir`; returns their metadata."""
    model = model.eval().float()
    n_layer, n_head, head_dim = cache_shape(model)
    buffers = empty_buffers(n_layer, n_head, head_dim, capacity=7)
    seq, n_patch = 5, 2
    past_len = torch.tensor(3, dtype=torch.long)
    prefill_args = (
        torch.zeros(1, seq, dtype=torch.long), torch.tensor([[5, 1, 1, 3, 4]], dtype=torch.long),
        torch.tensor([[7, 0, 1, 2, 3]], dtype=torch.long),
        torch.zeros(1, n_patch, 3, PATCH, PATCH), torch.zeros(1, n_patch, 4),
        torch.tensor([5, 6, 2, 3, 4], dtype=torch.long), past_len, *buffers,
    )
    decode_args = (torch.full((1, 1), ACTION_VOCAB_START, dtype=torch.long), torch.ones(1, 1, dtype=torch.long),
                   past_len, *buffers)
    caches = cache_input_names(n_layer)
    out_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation and tracer warnings
        for graph, args, names, file in (
            (PrefillGraph(model), prefill_args, PREFILL_INPUTS + caches, PREFILL_FILE),
            (DecodeGraph(model), decode_args, DECODE_INPUTS + caches, DECODE_FILE),
        ):
            torch.onnx.export(graph, args, str(out_dir / file), input_names=list(names), output_names=list(OUTPUTS),
                              dynamic_axes=_dynamic_axes(names, n_layer), opset_version=opset, dynamo=False,
                              do_constant_folding=True)
    return {"format": GRAPH_FORMAT, "prefill": PREFILL_FILE, "decode": DECODE_FILE, "precision": "fp32",
            "opset": opset, "n_layer": n_layer, "n_head": n_head, "head_dim": head_dim, "patch_size": PATCH,
            "action_vocab_start": ACTION_VOCAB_START, "action_vocab_size": ACTION_VOCAB_SIZE,
            "inputs": {"prefill": list(PREFILL_INPUTS), "decode": list(DECODE_INPUTS),
                       "cache": "past_k_i [1, H, hd, C], past_v_i [1, H, C, hd] per layer i, read in place; slots "
                                ">= past_len are masked"},
            "outputs": list(OUTPUTS)}


def quantize_int8(out_dir: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """Dynamic int8 quantization of the weight MatMuls (activations quantized on the fly) of both graphs, in place.

    Attention MatMuls (both operands activations: the cache) and the patch ResNet's convolutions stay fp32
    (ConvInteger was 3.7x slower than the fp32 Conv on our CPU).
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    for key in ("prefill", "decode"):
        path = out_dir / meta[key]
        with tempfile.TemporaryDirectory() as tmp:
            q = Path(tmp) / path.name
            quantize_dynamic(str(path), str(q), weight_type=QuantType.QInt8,
                             op_types_to_quantize=["MatMul", "Gemm", "Gather"],
                             extra_options={"MatMulConstBOnly": True})
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
