"""The Gato network: masked loss, causality, KV cache, patch positions, checkpoints, parameter counts."""

import numpy as np
import pytest
import torch

from gato_ros.config import default_config
from gato_ros.episode import Episode
from gato_ros.model.gato import CONFIGS, Gato, GatoModelConfig, load_checkpoint, param_count, save_checkpoint, value_logits
from gato_ros.tokenizer import GatoTokenizer, Modality, collate

TINY = GatoModelConfig(n_layer=2, n_head=2, n_embd=32, d_ff=64, head_dim=8, patch_channels=8, dropout=0.0)


def _batch(t: int = 3, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    ep = Episode(rng.integers(0, 255, (t, 64, 64, 3), dtype=np.uint8), rng.normal(size=(t, 8)),
                 rng.normal(size=(t, 8)), rng.normal(size=(t, 8)), instruction="stack the red object on the blue object")
    seq = GatoTokenizer(default_config()).episode(ep)
    return collate([seq], len(seq) + 5)


def _model(seed: int = 0) -> Gato:
    torch.manual_seed(seed)
    return Gato(TINY).eval()


def test_param_count_matches_built_models_and_paper_sizes():
    for c in (TINY, CONFIGS["tiny"], CONFIGS["small"]):
        assert param_count(c) == sum(p.numel() for p in Gato(c).parameters())
    # Table 5 configs; counts include the 33,026 x width shared embedding and the patch ResNet
    assert 75e6 < param_count(CONFIGS["79m"]) < 90e6
    assert 0.35e9 < param_count(CONFIGS["364m"]) < 0.42e9
    assert 1.1e9 < param_count(CONFIGS["1.18b"]) < 1.35e9
    assert CONFIGS["79m"].n_head == 24 and CONFIGS["79m"].head_dim == 32


def test_loss_ignores_observation_targets_but_not_actions():
    model, batch = _model(), _batch()
    _, loss = model(batch)
    obs = (batch["modality"] == Modality.CONTINUOUS) | (batch["modality"] == Modality.SEPARATOR)
    changed = {k: v.clone() for k, v in batch.items()}
    last_obs = int(obs[0].nonzero()[-1])
    changed["tokens"][0, last_obs] = 32000 + (int(changed["tokens"][0, last_obs]) - 32000 + 7) % 1024
    if changed["modality"][0, last_obs] == Modality.SEPARATOR:
        last_obs = int(((batch["modality"] == Modality.CONTINUOUS)[0]).nonzero()[-1])
        changed["tokens"][0, last_obs] = 32000 + (int(changed["tokens"][0, last_obs]) - 32000 + 7) % 1024
    # the changed token is never a target that counts, but it is an input for later tokens: compare the
    # per-target losses at that position only
    logits, _ = model(batch)
    ce = torch.nn.functional.cross_entropy(logits[0, last_obs - 1], batch["tokens"][0, last_obs])
    ce2 = torch.nn.functional.cross_entropy(logits[0, last_obs - 1], changed["tokens"][0, last_obs])
    assert not torch.isclose(ce, ce2)  # the target did change...
    # ...yet with everything after it cut off, the loss is the same
    cut = last_obs + 1
    b1 = {k: v[:, :cut] for k, v in batch.items()}
    b2 = {k: v[:, :cut] for k, v in changed.items()}
    assert torch.allclose(model(b1)[1], model(b2)[1])
    act = int((batch["modality"][0] == Modality.ACTION).nonzero()[-1])
    b3 = {k: v[:, :act + 1].clone() for k, v in batch.items()}
    b4 = {k: v.clone() for k, v in b3.items()}
    b4["tokens"][0, act] = 32000 + (int(b4["tokens"][0, act]) - 32000 + 100) % 1024
    assert not torch.allclose(model(b3)[1], model(b4)[1])  # action targets do count


def test_causal_future_does_not_change_past_logits():
    model, batch = _model(), _batch()
    logits, _ = model(batch)
    changed = {k: v.clone() for k, v in batch.items()}
    changed["tokens"][0, 60:] = 32001
    changed["patches"][0, 60:] = 0.2
    logits2, _ = model(changed)
    assert torch.allclose(logits[0, :60], logits2[0, :60], atol=1e-5)
    assert not torch.allclose(logits[0, 60:], logits2[0, 60:])


def test_cached_transformer_equals_full_recomputation():
    model, batch = _model(), _batch()
    n = int((batch["modality"][0] != Modality.PAD).sum())
    args = [batch[k][:, :n] for k in ("tokens", "modality", "local_pos", "patches", "patch_pos")]
    x = model.embed(*args)
    full, _, _ = model.transformer(x)
    k = v = None
    outs = []
    for lo, hi in ((0, 17), (17, 50), (50, 51), (51, n)):
        h, k, v = model.transformer(x[:, lo:hi], k, v)
        outs.append(h)
    assert k.shape == (TINY.n_layer, 1, TINY.n_head, n, TINY.head_dim)
    assert torch.allclose(torch.cat(outs, 1), full, atol=1e-5)


def test_patch_positions_sampled_in_training_centre_in_eval():
    model = _model()
    lo = torch.tensor([0.25, 0.5])
    hi = torch.tensor([0.5, 0.75])
    assert model._patch_bins(lo, hi).tolist() == [48, 80]  # centres 0.375, 0.625 of 128 bins
    model.train()
    torch.manual_seed(0)
    samples = torch.stack([model._patch_bins(lo, hi) for _ in range(200)])
    assert samples[:, 0].min() >= 32 and samples[:, 0].max() <= 63 and len(samples[:, 0].unique()) > 10
    batch = _batch()
    torch.manual_seed(1)
    a, _ = model(batch)
    torch.manual_seed(2)
    b, _ = model(batch)
    assert not torch.allclose(a, b)  # training-mode positions vary between passes
    model.eval()
    assert torch.allclose(model(batch)[0], model(batch)[0])


def test_training_loss_equals_forward_loss():
    model, batch = _model(), _batch()
    assert torch.allclose(model.loss(batch), model(batch)[1], atol=1e-5)


def test_value_logits_and_checkpoint_round_trip(tmp_path):
    model, batch = _model(), _batch()
    logits, _ = model(batch)
    assert value_logits(logits).shape[-1] == 1024
    cfg = default_config(name="test")
    save_checkpoint(tmp_path / "ckpt.pt", model, 7, cfg, extra={"note": "x"})
    loaded, cfg2, extra = load_checkpoint(tmp_path / "ckpt.pt")
    assert extra["step"] == 7 and extra["note"] == "x" and cfg2.model["n_embd"] == TINY.n_embd
    assert torch.allclose(loaded(batch)[0], logits)
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError):
        load_checkpoint(tmp_path / "bad.pt")
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.pt")


def test_overfits_a_tiny_dataset():
    """The masked loss on a fixed two-timestep batch falls far below its start within 150 steps."""
    torch.manual_seed(0)
    model = Gato(TINY).train()
    batch = _batch(t=2)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = None
    for _ in range(150):
        _, loss = model(batch)
        first = first if first is not None else float(loss.detach())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert first > 8.0 and float(loss) < 0.5, (first, float(loss))
