"""Write a model directory: prefill.onnx + decode.onnx (fp32, int8 or int4), gato.json and the SentencePiece model."""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gato_ros.config import PRECISIONS
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


INT4_BLOCK = 128  # weights per 4-bit block (one fp32 scale each); blocks of 32 measured slower (docs/RUNTIME.md)


def _int8_dynamic(path: Path, op_types: list[str]) -> None:
    """Dynamic int8 quantization of `op_types` with constant weights (activations quantized per call), in place."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as tmp:
        q = Path(tmp) / path.name
        quantize_dynamic(str(path), str(q), weight_type=QuantType.QInt8, op_types_to_quantize=op_types,
                         extra_options={"MatMulConstBOnly": True})
        shutil.move(str(q), path)


def _int4_weights(path: Path) -> None:
    """4-bit block-wise symmetric weights for every constant-weight MatMul (ONNX Runtime's MatMulNBits, int8
    compute: accuracy level 4), in place."""
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import DefaultWeightOnlyQuantConfig, MatMulNBitsQuantizer

    cfg = DefaultWeightOnlyQuantConfig(block_size=INT4_BLOCK, is_symmetric=True, accuracy_level=4)
    quantizer = MatMulNBitsQuantizer(onnx.load(str(path)), algo_config=cfg)
    quantizer.process()
    quantizer.model.save_model_to_file(str(path), False)


def quantize(out_dir: Path, meta: dict[str, Any], precision: str) -> dict[str, Any]:
    """Quantize the fp32 graphs of a model directory in place; returns the updated graph metadata.

    int8: dynamic int8 of the weight MatMuls and the embedding table in both graphs. int4: the prefill as int8 (it is
    compute-bound: 33 tokens meet every weight, where MatMulNBits measured slower than int8), the decode with 4-bit
    weights (it streams every weight once per token: half the bytes of int8) and an int8 embedding table. Attention
    MatMuls (both operands activations: the cache) and the patch ResNet's convolutions stay fp32 (ConvInteger was
    3.7x slower than the fp32 Conv on our CPU).
    """
    if precision not in PRECISIONS:
        raise ExportError(f"precision {precision!r} is not one of {PRECISIONS}")
    if meta.get("precision") != "fp32":
        raise ExportError(f"only fp32 graphs can be quantized; these are {meta.get('precision')!r}")
    if precision == "fp32":
        return meta
    weights = ["MatMul", "Gemm", "Gather"]
    _int8_dynamic(out_dir / meta["prefill"], weights)
    if precision == "int8":
        _int8_dynamic(out_dir / meta["decode"], weights)
        return {**meta, "precision": "int8"}
    _int4_weights(out_dir / meta["decode"])
    _int8_dynamic(out_dir / meta["decode"], ["Gather"])
    return {**meta, "precision": "int4", "weights": {"prefill": "int8 dynamic",
                                                     "decode": f"4-bit, blocks of {INT4_BLOCK} (MatMulNBits); "
                                                               "embedding table int8"}}


def requantize_model_dir(src: Path, out_dir: Path, precision: str) -> Path:
    """Copy the fp32 model directory `src` (e.g. a trained models/NAME) to `out_dir` with its graphs quantized: for a
    model whose training checkpoint is not at hand."""
    from gato_ros.runtime.model_files import graph_meta, load_config

    src, out_dir = Path(src), Path(out_dir)
    if src.resolve() == out_dir.resolve():
        raise ExportError(f"--out must differ from the source model directory {src}")
    config = load_config(src)
    meta = dict(config.model["onnx"])
    graph_meta(config, src)  # refuses a missing section or an old graph format
    if meta.get("precision") != "fp32":
        raise ExportError(f"{src} holds {meta.get('precision')} graphs; quantize from an fp32 model directory")
    shutil.copytree(src, out_dir, ignore=shutil.ignore_patterns("MODEL_CARD.md"), dirs_exist_ok=True)
    meta = quantize(out_dir, meta, precision)
    dataclasses.replace(config, model={**config.model, "onnx": meta}).save(out_dir / "gato.json")
    return out_dir


def model_config_dict(model_cfg: Any) -> dict[str, Any]:
    """The model's frozen config as a plain dict for gato.json."""
    if dataclasses.is_dataclass(model_cfg):
        return dataclasses.asdict(model_cfg)
    return dict(model_cfg or {})


def write_model_dir(model: nn.Module, config: Any, out_dir: Path, *, precision: str = "fp32",
                    sp_model: Path | None = None, model_cfg: Any = None) -> Path:
    """Export graphs, write gato.json (config + graph metadata) and copy the SentencePiece model to `out_dir`."""
    out_dir = Path(out_dir)
    meta = quantize(out_dir, export_graphs(model, out_dir), precision)
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
