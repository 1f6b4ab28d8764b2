"""ONNX export: graphs equal PyTorch within tolerance, cached prefill equals one long prefill, int8, CLI, gato.json."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from gato_ros.export.build import export_random, random_model  # noqa: E402
from gato_ros.export.graphs import cache_shape, embed_block  # noqa: E402
from gato_ros.runtime.kv import block_inputs  # noqa: E402
from gato_ros.runtime.providers import session_options  # noqa: E402
from gato_ros.tokenizer import TokenSequence, concat  # noqa: E402

# fp32 graphs vs eager PyTorch: ONNX Runtime fuses and reorders float ops, so allow 1e-4 absolute on logits
# of order 1 (random init) and 1e-4 on keys/values.
ATOL = 1e-4
CAPACITY = 96
FIELDS = ("tokens", "modality", "local_pos", "patches", "patch_pos")


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, torch.nn.Module]:
    out = export_random("tiny", tmp_path_factory.mktemp("m") / "tiny", seed=3)
    model, _ = random_model("tiny", seed=3)
    return out, model


def _session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), session_options(), providers=["CPUExecutionProvider"])


def _block(model_dir: Path, seed: int, with_actions: bool = True) -> TokenSequence:
    """One real timestep from the tokenizer: observation block (+ 8 action tokens), per-token arrays [L, ...]."""
    from gato_ros.config import GatoConfig
    from gato_ros.tokenizer import GatoTokenizer

    cfg = GatoConfig.load(model_dir / "gato.json")
    tok = GatoTokenizer(cfg, model_dir)
    rng = np.random.default_rng(seed)
    size = getattr(cfg.tokenizer, "image_size", None) or (cfg.tokenizer.image_height, cfg.tokenizer.image_width)
    seqs = [tok.observation(rng.integers(0, 256, (*size, 3), dtype=np.uint8), rng.normal(size=15),
                            "stack red on blue" if seed % 2 else None)]
    if with_actions:
        seqs.append(tok.actions(rng.uniform(-1, 1, 8) * np.array([80, 80, 40, 40, 9, 9, 9, 1])))
    return concat(seqs)


def _cat(a: TokenSequence, b: TokenSequence) -> TokenSequence:
    return concat([a, b])


def _torch(block: TokenSequence) -> list[torch.Tensor]:
    return [torch.from_numpy(getattr(block, f).astype(np.float32 if f.startswith("patch") else np.int64))[None]
            for f in FIELDS]


def _buffers(model: torch.nn.Module, k: np.ndarray | None = None, v: np.ndarray | None = None, slots=None,
             garbage: float = 1e3) -> dict[str, np.ndarray]:
    """Graph cache inputs holding a [L, 1, H, T, hd] cache at `slots` (default 0..T-1); other slots garbage."""
    n_layer, n_head, head_dim = cache_shape(model)
    kb = np.full((n_layer, 1, n_head, head_dim, CAPACITY), garbage, np.float32)
    vb = np.full((n_layer, 1, n_head, CAPACITY, head_dim), -garbage, np.float32)
    if k is not None:
        slots = np.arange(k.shape[3]) if slots is None else slots
        kb[..., slots] = k.transpose(0, 1, 2, 4, 3)
        vb[:, :, :, slots] = v
    return {**{f"past_k_{i}": kb[i] for i in range(n_layer)}, **{f"past_v_{i}": vb[i] for i in range(n_layer)}}


def _prefill(sess: ort.InferenceSession, block: TokenSequence, past_len: int, buffers: dict) -> list:
    return sess.run(None, {**block_inputs(block), "past_len": np.array(past_len), **buffers})


def test_model_dir_contents(exported: tuple[Path, torch.nn.Module]) -> None:
    out, model = exported
    meta = json.loads((out / "gato.json").read_text())["model"]["onnx"]
    assert (out / meta["prefill"]).is_file() and (out / meta["decode"]).is_file()
    assert meta["precision"] == "fp32" and meta["action_vocab_size"] == 1024
    assert meta["format"] == "gato_ros.kv_buffers.v3"
    assert (meta["n_layer"], meta["n_head"], meta["head_dim"]) == cache_shape(model)
    text_model = json.loads((out / "gato.json").read_text())["tokenizer"]["text_model"]
    assert (out / text_model).is_file()  # the SentencePiece model travels with the graphs


def test_embed_block_equals_model_embed(exported: tuple[Path, torch.nn.Module]) -> None:
    """The export embedding (ResNet on image positions only, then a gather) is Gato.embed in eval mode."""
    out, model = exported
    block = _cat(_block(out, 1), _block(out, 2))  # text, two images, proprio, separators, actions
    feeds = block_inputs(block)
    with torch.no_grad():
        ref = model.embed(*_torch(block))
        got = embed_block(model, *(torch.from_numpy(feeds[n]) for n in ("tokens", "modality", "local_pos", "patches",
                                                                         "patch_pos", "source")))
    np.testing.assert_allclose(got.numpy(), ref.numpy(), atol=1e-5)


def test_prefill_and_decode_match_pytorch(exported: tuple[Path, torch.nn.Module]) -> None:
    """ONNX prefill after a cached block, then a decode (an action token of dimension 3), equal Gato.transformer
    with its concatenated cache."""
    out, model = exported
    first, second = _block(out, 0), _block(out, 1, with_actions=False)
    token, dim = torch.tensor([[32000 + 517]]), torch.tensor([[3]])
    with torch.no_grad():
        _, k, v = model.transformer(model.embed(*_torch(first)))
        h, k2, v2 = model.transformer(model.embed(*_torch(second)), k, v)
        ref = model.action_logits(h[:, -1:])[:, -1]
        x = model.embed(token, torch.full_like(token, 5), dim, torch.zeros(1, 1, 3, 16, 16), torch.zeros(1, 1, 4))
        hd, k3, v3 = model.transformer(x, k2, v2)
        ref_dec = model.action_logits(hd)[:, -1]
    t0 = k.shape[3]
    logits, new_k, new_v = _prefill(_session(out / "prefill.onnx"), second, t0, _buffers(model, k.numpy(), v.numpy()))
    assert logits.shape == (1, 1024) and new_k.shape[3] == len(second)
    np.testing.assert_allclose(logits, ref.numpy(), atol=ATOL, rtol=1e-4)
    np.testing.assert_allclose(new_k, k2[:, :, :, t0:].numpy(), atol=ATOL, rtol=1e-4)
    np.testing.assert_allclose(new_v, v2[:, :, :, t0:].numpy(), atol=ATOL, rtol=1e-4)
    cache = _buffers(model, np.concatenate([k.numpy(), new_k], 3), np.concatenate([v.numpy(), new_v], 3))
    got = _session(out / "decode.onnx").run(None, {"token": token.numpy(), "local_pos": dim.numpy(),
                                                   "past_len": np.array(k2.shape[3]), **cache})
    np.testing.assert_allclose(got[0], ref_dec.numpy(), atol=ATOL, rtol=1e-4)
    np.testing.assert_allclose(got[1], k3[:, :, :, -1:].numpy(), atol=ATOL, rtol=1e-4)


def test_action_head_equals_value_logits(exported: tuple[Path, torch.nn.Module]) -> None:
    """The graphs' 1024 logits (Gato.action_logits) are exactly the value-id slice of the full-vocabulary logits."""
    _, model = exported
    h = torch.randn(1, 3, model.config.n_embd)
    with torch.no_grad():
        np.testing.assert_allclose(model.action_logits(h).numpy(), model.logits(h)[..., 32000:33024].numpy(),
                                   atol=1e-6, rtol=1e-5)


def test_cached_prefill_equals_full_recomputation(exported: tuple[Path, torch.nn.Module]) -> None:
    """Two timesteps fed through the cache buffers give the logits and keys/values of one pass over both."""
    out, model = exported
    sess = _session(out / "prefill.onnx")
    a, b = _block(out, 2), _block(out, 3)
    _, ka, va = _prefill(sess, a, 0, _buffers(model))
    cached = _prefill(sess, b, len(a), _buffers(model, ka, va))
    full = _prefill(sess, _cat(a, b), 0, _buffers(model))
    np.testing.assert_allclose(cached[0], full[0], atol=ATOL, rtol=1e-4)
    for c, f in zip(cached[1:], full[1:]):
        np.testing.assert_allclose(c, f[:, :, :, len(a):], atol=ATOL, rtol=1e-4)


def test_cache_slot_order_does_not_matter(exported: tuple[Path, torch.nn.Module]) -> None:
    """Gato has no absolute positions: the same cached tokens in permuted slots give the same logits.

    The runtime relies on this to evict a timestep by moving the newest tokens into its slots.
    """
    out, model = exported
    sess = _session(out / "prefill.onnx")
    a, b = _block(out, 4), _block(out, 5)
    _, k, v = _prefill(sess, a, 0, _buffers(model))
    n = k.shape[3]
    in_order = _prefill(sess, b, n, _buffers(model, k, v))[0]
    permuted = _prefill(sess, b, n, _buffers(model, k, v, slots=np.random.default_rng(0).permutation(n)))[0]
    np.testing.assert_allclose(permuted, in_order, atol=1e-5, rtol=1e-5)


def test_int8_export(tmp_path: Path, exported: tuple[Path, torch.nn.Module]) -> None:
    """--int8 quantizes the weight MatMuls only, writes smaller graphs, runs and stays close to fp32."""
    import onnx

    fp32, model = exported
    out = export_random("tiny", tmp_path / "q", precision="int8", seed=3)
    meta = json.loads((out / "gato.json").read_text())["model"]["onnx"]
    assert meta["precision"] == "int8"
    assert (out / "decode.onnx").stat().st_size < 0.6 * (fp32 / "decode.onnx").stat().st_size
    ops = {n.op_type for n in onnx.load(str(out / "prefill.onnx")).graph.node}
    assert "MatMulInteger" in ops or "DynamicQuantizeLinear" in ops
    assert "Conv" in ops and "ConvInteger" not in ops  # ConvInteger is slower than fp32 Conv on CPU
    block = _block(fp32, 4)
    q = _prefill(_session(out / "prefill.onnx"), block, 0, _buffers(model))[0]
    f = _prefill(_session(fp32 / "prefill.onnx"), block, 0, _buffers(model))[0]
    assert np.corrcoef(q.ravel(), f.ravel())[0, 1] > 0.9


def test_int4_export(tmp_path: Path, exported: tuple[Path, torch.nn.Module]) -> None:
    """int4: 4-bit weights in the decode graph, int8 in the prefill; both run and stay close to fp32."""
    import onnx

    fp32, model = exported
    out = export_random("tiny", tmp_path / "q4", precision="int4", seed=3)
    meta = json.loads((out / "gato.json").read_text())["model"]["onnx"]
    assert meta["precision"] == "int4" and "4-bit" in meta["weights"]["decode"]
    decode_ops = {n.op_type for n in onnx.load(str(out / "decode.onnx")).graph.node}
    prefill_ops = {n.op_type for n in onnx.load(str(out / "prefill.onnx")).graph.node}
    assert "MatMulNBits" in decode_ops and "MatMulNBits" not in prefill_ops
    assert "MatMulInteger" in prefill_ops or "DynamicQuantizeLinear" in prefill_ops
    block = _block(fp32, 4)
    np.testing.assert_array_less(0.9, np.corrcoef(_prefill(_session(out / "prefill.onnx"), block, 0, _buffers(model))[0]
                                                  .ravel(), _prefill(_session(fp32 / "prefill.onnx"), block, 0,
                                                                     _buffers(model))[0].ravel())[0, 1])
    k, v = (_prefill(_session(fp32 / "prefill.onnx"), block, 0, _buffers(model))[i] for i in (1, 2))
    feeds = {"token": np.array([[32500]]), "local_pos": np.array([[1]]), "past_len": np.array(k.shape[3]),
             **_buffers(model, k, v)}
    q, f = (_session(d / "decode.onnx").run(None, feeds)[0] for d in (out, fp32))
    assert np.corrcoef(q.ravel(), f.ravel())[0, 1] > 0.9


def test_quantize_a_model_directory(tmp_path: Path, exported: tuple[Path, torch.nn.Module]) -> None:
    """`gato-ros export MODEL_DIR --precision int8|int4` quantizes a trained fp32 directory (no checkpoint needed): the
    same graphs a checkpoint export gives, gato.json kept but for the precision; bad requests fail with a message."""
    from gato_ros.cli import main
    from gato_ros.runtime import GatoPolicy

    fp32, _ = exported
    for precision in ("int8", "int4"):
        out = tmp_path / precision
        assert main(["export", str(fp32), "--out", str(out), "--precision", precision]) == 0
        src, got = (json.loads((d / "gato.json").read_text()) for d in (fp32, out))
        assert got["model"]["onnx"]["precision"] == precision
        got["model"]["onnx"] = src["model"]["onnx"]
        assert got == src
        direct = export_random("tiny", tmp_path / f"direct_{precision}", precision=precision, seed=3)
        block = _block(fp32, 5)
        a, b = (_prefill(_session(d / "prefill.onnx"), block, 0, _buffers(exported[1]))[0] for d in (out, direct))
        np.testing.assert_allclose(a, b, atol=1e-5)
        policy = GatoPolicy(out, provider="cpu")
        assert np.isfinite(policy.act(np.zeros((64, 64, 3), np.uint8), np.zeros(15))).all()
    with pytest.raises(SystemExit, match="only re-exported quantized"):
        main(["export", str(fp32), "--out", str(tmp_path / "same")])
    with pytest.raises(SystemExit, match="holds int8 graphs"):
        main(["export", str(tmp_path / "int8"), "--out", str(tmp_path / "twice"), "--precision", "int4"])
    with pytest.raises(SystemExit, match="must differ"):
        main(["export", str(fp32), "--out", str(fp32), "--precision", "int8"])
    with pytest.raises(SystemExit, match="contradicts"):
        main(["export", str(fp32), "--out", str(tmp_path / "x"), "--int8", "--precision", "int4"])


def test_cli_export_random(tmp_path: Path) -> None:
    from gato_ros.cli import main

    assert main(["export", "--random", "tiny", "--out", str(tmp_path / "cli")]) == 0
    assert (tmp_path / "cli" / "gato.json").is_file() and (tmp_path / "cli" / "decode.onnx").is_file()
    with pytest.raises(SystemExit):
        main(["export", "--out", str(tmp_path / "none")])
    # a random model for another registry arm: its joints and limits, which the agent checks against the graph's
    assert main(["export", "--random", "tiny", "--robot", "panda", "--out", str(tmp_path / "panda")]) == 0
    robot = json.loads((tmp_path / "panda" / "gato.json").read_text())["robot"]
    assert robot["name"] == "panda" and robot["joint_names"][0] == "panda_joint1" and robot["effort_limit"][0] == 87.0
    with pytest.raises(SystemExit, match="--robot is for --random"):
        main(["export", str(tmp_path / "x.pt"), "--robot", "panda", "--out", str(tmp_path / "none")])


def test_value_embedding_exports_and_starts_as_the_plain_model(tmp_path: Path) -> None:
    """With `value_embedding`, a value token's input adds its bin centre x `value_dir`: zero gives the plain model
    (so a run can add it to trained weights); non-zero, the ONNX prefill and decode still equal PyTorch."""
    import dataclasses

    from gato_ros.config import default_config
    from gato_ros.export.build import write_model_dir
    from gato_ros.model.gato import CONFIGS, Gato

    cfg = dataclasses.replace(CONFIGS["tiny"], value_embedding=True)
    plain, _ = random_model("tiny", seed=4)
    model = Gato(cfg).eval()
    model.load_state_dict(plain.state_dict(), strict=False)
    out = _block(export_random("tiny", tmp_path / "plain", seed=4), 1)
    with torch.no_grad():
        np.testing.assert_array_equal(model.embed(*_torch(out)).numpy(), plain.embed(*_torch(out)).numpy())
        model.value_dir.normal_(std=0.5)
        changed = model.embed(*_torch(out)) - plain.embed(*_torch(out))
    is_value = (out.tokens >= 32000) & (out.tokens < 33024)
    assert changed[0, is_value].abs().amax() > 0.1 and changed[0, ~is_value].abs().amax() == 0
    config = dataclasses.replace(default_config(), model={"name": "tiny", **dataclasses.asdict(cfg)})
    model_dir = write_model_dir(model, config, tmp_path / "value", model_cfg=cfg)
    block, token, dim = _block(model_dir, 0), torch.tensor([[32000 + 700]]), torch.tensor([[2]])
    with torch.no_grad():
        h, k, v = model.transformer(model.embed(*_torch(block)))
        ref = model.action_logits(h[:, -1:])[:, -1]
        x = model.embed(token, torch.full_like(token, 5), dim, torch.zeros(1, 1, 3, 16, 16), torch.zeros(1, 1, 4))
        ref_dec = model.action_logits(model.transformer(x, k, v)[0])[:, -1]
    logits, new_k, new_v = _prefill(_session(model_dir / "prefill.onnx"), block, 0, _buffers(model))
    np.testing.assert_allclose(logits, ref.numpy(), atol=ATOL, rtol=1e-4)
    got = _session(model_dir / "decode.onnx").run(None, {"token": token.numpy(), "local_pos": dim.numpy(),
                                                         "past_len": np.array(len(block)),
                                                         **_buffers(model, new_k, new_v)})
    np.testing.assert_allclose(got[0], ref_dec.numpy(), atol=ATOL, rtol=1e-4)
