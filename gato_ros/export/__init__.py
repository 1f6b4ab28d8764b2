"""ONNX export of a Gato model: prefill and decode graphs over in-place KV-cache buffers, gato.json, tokenizer files."""

from gato_ros.export.graphs import DecodeGraph, PrefillGraph, cache_shape
from gato_ros.export.onnx_export import DECODE_FILE, PREFILL_FILE, ExportError, export_graphs, write_model_dir

__all__ = ["DecodeGraph", "PrefillGraph", "cache_shape", "export_graphs", "write_model_dir", "ExportError",
           "PREFILL_FILE", "DECODE_FILE"]
