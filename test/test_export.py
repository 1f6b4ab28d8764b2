"""ONNX export: graphs equal PyTorch within tolerance, cached prefill equals one long prefill, int8, CLI, gato.json."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("gato_ros.model.gato", reason="needs the Gato model (issue 3)")
pytest.importorskip("gato_ros.tokenizer", reason="needs the tokenizer (issue 2)")
ort = pytest.importorskip("onnxruntime")

from gato_ros.export.build import export_random, random_model  # noqa: E402
from gato_ros.export.graphs import DecodeGraph, PrefillGraph, cache_shape, empty_cache  # noqa: E402
from gato_ros.runtime.providers import session_options  # noqa: E402

# fp32 graphs vs eager PyTorch: ONNX Runtime fuses and reorders float ops, so allow 1e-4 absolute on logits
# of order 1 (random init) and 1e-4 on keys/values.
ATOL = 1e-4


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, torch.nn.Module]:
    out = export_random("tiny", tmp_path_factory.mktemp("m") / "tiny", seed=3)
    model, _ = random_model("tiny", seed=3)
    return out, model


def _session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), session_options(), providers=["CPUExecutionProvider"])


def _block(model_dir: Path, seed: int, with_actions: bool = True) -> dict[str, np.ndarray]:
    """One real timestep from the tokenizer: observation block (+ 8 action tokens)."""
    from gato_ros.config import GatoConfig
    from gato_ros.tokenizer import GatoTokenizer

    cfg = GatoConfig.load(model_dir / "gato.json")
    tok = GatoTokenizer(cfg, model_dir)
    rng = np.random.default_rng(seed)
    size = getattr(cfg.tokenizer, "image_size", None) or (cfg.tokenizer.image_height, cfg.tokenizer.image_width)
    seqs = [tok.observation(rng.integers(0, 256, (*size, 3), dtype=np.uint8), rng.normal(size=15))]
    if with_actions:
        seqs.append(tok.actions(rng.uniform(-1, 1, 8) * np.array([80, 80, 40, 40, 9, 9, 9, 1])))
    fields = ("tokens", "modality", "local_pos", "patches", "patch_pos")
    return {f: np.concatenate([np.asarray(getattr(s, f)) for s in seqs])[None].astype(
        np.float32 if f.startswith("patch") else np.int64) for f in fields}


def _torch(feeds: dict[str, np.ndarray]) -> list[torch.Tensor]:
    return [torch.from_numpy(feeds[f]) for f in ("tokens", "modality", "local_pos", "patches", "patch_pos")]


def test_model_dir_contents(exported: tuple[Path, torch.nn.Module]) -> None:
    out, model = exported
    meta = json.loads((out / "gato.json").read_text())["model"]["onnx"]
    assert (out / meta["prefill"]).is_file() and (out / meta["decode"]).is_file()
    assert meta["precision"] == "fp32" and meta["action_vocab_size"] == 1024
    assert (meta["n_layer"], meta["n_head"], meta["head_dim"]) == cache_shape(model)
    text_model = json.loads((out / "gato.json").read_text())["tokenizer"]["text_model"]
    assert (out / text_model).is_file()  # the SentencePiece model travels with the graphs


def test_prefill_and_decode_match_pytorch(exported: tuple[Path, torch.nn.Module]) -> None:
    out, model = exported
    n_layer, n_head, head_dim = cache_shape(model)
    first, second = _block(out, 0), _block(out, 1, with_actions=False)
    with torch.no_grad():
        _, k, v = PrefillGraph(model)(*_torch(first), empty_cache(n_layer, n_head, head_dim),
                                      empty_cache(n_layer, n_head, head_dim))
        ref = PrefillGraph(model)(*_torch(second), k, v)
        ref_dec = DecodeGraph(model)(torch.tensor([[32000 + 517]]), ref[1], ref[2])
    got = _session(out / "prefill.onnx").run(None, {**second, "past_k": k.numpy(), "past_v": v.numpy()})
    for g, r in zip(got, ref):
        np.testing.assert_allclose(g, r.numpy(), atol=ATOL, rtol=1e-4)
    assert got[0].shape == (1, 1024)
    assert got[1].shape[3] == k.shape[3] + second["tokens"].shape[1]
    got_dec = _session(out / "decode.onnx").run(None, {"token": np.array([[32000 + 517]]), "past_k": got[1],
                                                       "past_v": got[2]})
    for g, r in zip(got_dec, ref_dec):
        np.testing.assert_allclose(g, r.numpy(), atol=ATOL, rtol=1e-4)


def test_restricted_head_equals_value_logits(exported: tuple[Path, torch.nn.Module]) -> None:
    """The graph's 1024 logits are exactly the value-id slice of the model's full-vocabulary logits."""
    from gato_ros.export.graphs import restricted_logits

    _, model = exported
    h = torch.randn(1, 3, model.config.n_embd)
    with torch.no_grad():
        full = model.logits(h)[:, -1, 32000:33024]
        np.testing.assert_allclose(restricted_logits(model, h[:, -1:], 32000, 1024).numpy(), full.numpy(),
                                   atol=1e-6, rtol=1e-5)


def test_cached_prefill_equals_full_recomputation(exported: tuple[Path, torch.nn.Module]) -> None:
    """Two timesteps fed through the cache give the logits and cache of one pass over both."""
    out, model = exported
    n_layer, n_head, head_dim = cache_shape(model)
    sess = _session(out / "prefill.onnx")
    empty = np.zeros((n_layer, 1, n_head, 0, head_dim), np.float32)
    a, b = _block(out, 2), _block(out, 3)
    _, k, v = sess.run(None, {**a, "past_k": empty, "past_v": empty})
    cached = sess.run(None, {**b, "past_k": k, "past_v": v})
    full = sess.run(None, {**{f: np.concatenate([a[f], b[f]], axis=1) for f in a}, "past_k": empty, "past_v": empty})
    for c, f in zip(cached, full):
        np.testing.assert_allclose(c, f, atol=ATOL, rtol=1e-4)


def test_int8_export(tmp_path: Path, exported: tuple[Path, torch.nn.Module]) -> None:
    """--int8 writes smaller graphs that run and stay close to fp32 (dynamic quantization error)."""
    fp32, _ = exported
    out = export_random("tiny", tmp_path / "q", int8=True, seed=3)
    meta = json.loads((out / "gato.json").read_text())["model"]["onnx"]
    assert meta["precision"] == "int8"
    assert (out / "decode.onnx").stat().st_size < 0.6 * (fp32 / "decode.onnx").stat().st_size
    feeds = _block(fp32, 4)
    n = json.loads((fp32 / "gato.json").read_text())["model"]["onnx"]
    empty = np.zeros((n["n_layer"], 1, n["n_head"], 0, n["head_dim"]), np.float32)
    q = _session(out / "prefill.onnx").run(None, {**feeds, "past_k": empty, "past_v": empty})[0]
    f = _session(fp32 / "prefill.onnx").run(None, {**feeds, "past_k": empty, "past_v": empty})[0]
    assert np.corrcoef(q.ravel(), f.ravel())[0, 1] > 0.9


def test_cli_export_random(tmp_path: Path) -> None:
    from gato_ros.cli import main

    assert main(["export", "--random", "tiny", "--out", str(tmp_path / "cli")]) == 0
    assert (tmp_path / "cli" / "gato.json").is_file() and (tmp_path / "cli" / "decode.onnx").is_file()
    with pytest.raises(SystemExit):
        main(["export", "--out", str(tmp_path / "none")])
