"""Execution provider choice: 'auto' uses CUDA only if a CUDA session really initialises, else the CPU."""

from __future__ import annotations

import logging
from pathlib import Path

import onnxruntime as ort

from gato_ros.config import PROVIDERS
from gato_ros.runtime.errors import ModelLoadError, ProviderError

LOG = logging.getLogger("gato_ros.runtime")
_CUDA = "CUDAExecutionProvider"
_CPU = "CPUExecutionProvider"


def session_options(threads: int = 0, spin: bool = False) -> ort.SessionOptions:
    """Full graph optimisation, quiet logs; `threads`=0: one thread per physical core.

    Thread spinning is off by default: on a small shared CPU (sim, safety and agent nodes on 2 cores) spinning
    workers steal the cores the other processes need and made steps 2x slower in our measurements.
    """
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    if threads:
        opts.intra_op_num_threads = threads
    return opts


def _open(path: Path, providers: list, threads: int) -> ort.InferenceSession:
    try:
        return ort.InferenceSession(str(path), sess_options=session_options(threads), providers=providers)
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidProtobuf/NoSuchFile classes
        if not path.is_file():
            raise ModelLoadError(f"ONNX graph {path} is missing (re-export with `gato-ros export`)") from exc
        raise ModelLoadError(f"ONNX graph {path} cannot be loaded (corrupt or not ONNX?): {exc}") from exc


def open_sessions(paths: list[Path], provider: str = "auto",
                  threads: int = 0) -> tuple[list[ort.InferenceSession], str]:
    """Sessions for `paths` on the chosen provider; returns them and 'cuda' or 'cpu'. Logs one line."""
    if provider not in PROVIDERS:
        raise ProviderError(f"execution provider {provider!r} is not one of {PROVIDERS}")
    for path in paths:
        if not path.is_file():
            raise ModelLoadError(f"ONNX graph {path} is missing (re-export with `gato-ros export`)")
    if provider in ("auto", "cuda") and _CUDA in ort.get_available_providers():
        ort.set_default_logger_severity(4)  # ORT's own CUDA-load errors would repeat our one line
        try:
            sessions = [_open(p, [_CUDA, _CPU], threads) for p in paths]
        except ModelLoadError:
            if provider == "cuda":
                raise
            sessions = []
        finally:
            ort.set_default_logger_severity(3)
        if sessions and all(_CUDA in s.get_providers() for s in sessions):
            LOG.info("onnxruntime %s: CUDA execution provider (%s)", ort.__version__, provider)
            return sessions, "cuda"
        reason = "CUDA session did not initialise (no GPU or driver/CUDA libraries missing)"
    elif provider in ("auto", "cuda"):
        reason = "this onnxruntime build has no CUDA execution provider"
    else:
        reason = "requested"
    if provider == "cuda":
        raise ProviderError(f"execution_provider 'cuda' requested but {reason}; use 'auto' or 'cpu'")
    sessions = [_open(p, [_CPU], threads) for p in paths]
    LOG.info("onnxruntime %s: CPU execution provider (%s: %s)", ort.__version__, provider, reason)
    return sessions, "cpu"
