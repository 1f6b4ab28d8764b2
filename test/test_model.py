"""The Gato network: masked loss, causality, KV cache, patch positions, checkpoints, parameter counts."""

import dataclasses

import numpy as np
import pytest
import torch

from gato_ros.config import default_config
from gato_ros.episode import Episode
from gato_ros.model.gato import (CONFIGS, Gato, GatoModelConfig, action_logits_mask, hl_gauss_targets, load_checkpoint,
                                 param_count, restrict_to_actions, save_checkpoint, value_logits)
from gato_ros.tokenizer import GatoTokenizer, Modality, collate

TINY = GatoModelConfig(n_layer=2, n_head=2, n_embd=32, d_ff=64, head_dim=8, patch_channels=8, dropout=0.0)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models run fastest on one thread, especially on a shared, loaded 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _batch(t: int = 3, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    ep = Episode(rng.integers(0, 255, (t, 64, 64, 3), dtype=np.uint8), rng.normal(size=(t, 8)),
                 rng.normal(size=(t, 8)), rng.normal(size=(t, 8)),
                 instruction="stack the red object on the blue object")
    seq = GatoTokenizer(default_config()).episode(ep)
    return collate([seq], len(seq) + 5)


def _model(seed: int = 0) -> Gato:
    torch.manual_seed(seed)
    return Gato(TINY).eval()


def test_param_count_matches_built_models_and_paper_sizes():
    for c in (TINY, CONFIGS["tiny"], CONFIGS["small"], dataclasses.replace(TINY, action_head="regression")):
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
    assert torch.allclose(model.loss(batch, 32.0), model(batch, 32.0)[1], atol=1e-5)


def test_value_logits_and_checkpoint_round_trip(tmp_path):
    model, batch = _model(), _batch()
    logits, _ = model(batch)
    assert value_logits(logits).shape[-1] == 1024
    h, _, _ = model.transformer(model.embed(*(batch[k] for k in ("tokens", "modality", "local_pos", "patches",
                                                                 "patch_pos"))))
    assert torch.allclose(model.action_logits(h), value_logits(logits), atol=1e-5)
    mask = action_logits_mask()
    assert int(mask.sum()) == 1024 and mask[32000] and mask[33023] and not mask[31999] and not mask[33024]
    restricted = restrict_to_actions(logits)
    assert int(restricted.argmax(-1).min()) >= 32000 and int(restricted.argmax(-1).max()) < 33024
    assert torch.isinf(restricted[..., :32000]).all() and torch.isinf(restricted[..., 33024:]).all()
    cfg = default_config(name="test")
    opt = torch.optim.AdamW(model.parameters())
    save_checkpoint(tmp_path / "ckpt.pt", model, 7, cfg, optimizer_state=opt.state_dict(), extra={"note": "x"})
    loaded, cfg2, extra = load_checkpoint(tmp_path / "ckpt.pt")
    assert extra["step"] == 7 and extra["note"] == "x" and cfg2.model["n_embd"] == TINY.n_embd
    assert extra["optimizer"]["param_groups"][0]["lr"] == opt.param_groups[0]["lr"]
    assert torch.allclose(loaded(batch)[0], logits)
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError):
        load_checkpoint(tmp_path / "bad.pt")
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.pt")
    with pytest.raises(TypeError, match="step: int"):  # the old (optimizer_state, step, config) order
        save_checkpoint(tmp_path / "old.pt", model, opt.state_dict(), 7, cfg)


def test_local_position_beyond_table_is_a_clear_error():
    model, batch = _model(), _batch()
    batch["local_pos"][0, 3] = TINY.max_local_positions
    with pytest.raises(ValueError, match="max_local_positions"):
        model(batch)
    batch = _batch()
    batch["local_pos"][batch["modality"] == Modality.ACTION] = TINY.max_action_positions
    with pytest.raises(ValueError, match="max_action_positions"):
        model(batch)


def test_action_tokens_get_their_dimension_embedding():
    """Action tokens carry their dimension in local_pos and get `action_pos` of it (not the observation table)."""
    model, batch = _model(), _batch()
    is_action = batch["modality"] == Modality.ACTION
    assert batch["local_pos"][is_action].reshape(-1, 8).tolist()[0] == list(range(8))
    pos = model.positions(batch["modality"], batch["local_pos"])
    first = int(is_action[0].nonzero()[0])
    assert torch.equal(pos[0, first + 3], model.action_pos.weight[3])
    obs = int((batch["modality"][0] == Modality.CONTINUOUS).nonzero()[0])
    assert torch.equal(pos[0, obs], model.local_pos.weight[int(batch["local_pos"][0, obs])])
    assert not pos[0, batch["local_pos"][0] < 0].any()  # pad (and text) get no local position


def test_hl_gauss_targets_and_action_loss():
    """Each HL-Gauss row is a distribution centred on its bin; sigma 0 is plain one-hot CE of the value head."""
    table = hl_gauss_targets(1024, 32.0)
    assert torch.allclose(table.sum(-1), torch.ones(1024), atol=1e-5)
    assert int(table[500].argmax()) == 500 and abs(float((table[500] * torch.arange(1024)).sum()) - 500) < 1e-2
    assert float(table[0, 0]) > float(table[500, 500])  # truncated at the range edge and renormalised
    model, batch = _model(), _batch()
    x = model.embed(*(batch[k] for k in ("tokens", "modality", "local_pos", "patches", "patch_pos")))
    h, _, _ = model.transformer(x)
    is_action = batch["modality"][:, 1:] == Modality.ACTION
    logp = torch.log_softmax(model.action_logits(h[:, :-1][is_action]), -1)
    bins = batch["tokens"][:, 1:][is_action] - 32000
    onehot = -logp.gather(-1, bins[:, None]).mean()
    assert torch.allclose(model.loss(batch, 0.0), onehot, atol=1e-5)
    soft = -(table[bins] * logp).sum(-1).mean()
    assert torch.allclose(model.loss(batch, 32.0), soft, atol=1e-5)
    centres = (torch.arange(1024) + 0.5) / 512 - 1
    sq = ((logp.exp() @ centres - centres[bins]) ** 2).mean()
    assert torch.allclose(model.loss(batch, 32.0, 100.0), soft + 100.0 * sq, atol=1e-5)


def test_action_value_term_moves_the_expected_value_onto_the_target():
    """With action_value_weight the head's expected value (what `expected` decoding outputs) is regressed onto the
    target: a few steps of the value term alone shrink its error several times."""
    torch.manual_seed(0)
    model, batch = _model(), _batch()
    is_action = batch["modality"][:, 1:] == Modality.ACTION
    bins = batch["tokens"][:, 1:][is_action] - 32000
    centres = (torch.arange(1024) + 0.5) / 512 - 1

    def error() -> float:
        with torch.no_grad():
            x = model.embed(*(batch[k] for k in ("tokens", "modality", "local_pos", "patches", "patch_pos")))
            h, _, _ = model.transformer(x)
            p = torch.softmax(model.action_logits(h[:, :-1][is_action]), -1)
            return float((p @ centres - centres[bins]).abs().mean())

    before = error()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(30):
        loss = model.loss(batch, 0.0, 1e4) - model.loss(batch, 0.0, 0.0)  # the value term alone
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert error() < 0.3 * before, (before, error())


def test_regression_head_reads_back_through_every_decoding_mode_and_is_trained_by_squared_error():
    """action_head: regression presents its value as the logits of a one-bin-wide Gaussian, so argmax (nearest bin),
    expected and median decoding read the value back; its loss is action_value_weight x the squared error."""
    from gato_ros.tokenizer import read_bins

    torch.manual_seed(0)
    model, batch = Gato(dataclasses.replace(TINY, action_head="regression")).eval(), _batch()
    with torch.no_grad():
        model.value_head.bias.fill_(0.3)  # values inside (-1, 1), away from 0
    x = model.embed(*(batch[k] for k in ("tokens", "modality", "local_pos", "patches", "patch_pos")))
    h, _, _ = model.transformer(x)
    is_action = batch["modality"][:, 1:] == Modality.ACTION
    value = model.action_value(h[:, :-1][is_action])
    logits = model.action_logits(h[:, :-1][is_action]).detach().numpy()
    for mode, tol in (("expected", 1e-4), ("median", 1e-3), ("argmax", 1 / 1024 + 1e-6)):
        np.testing.assert_allclose(read_bins(logits, mode), value.detach().numpy(), atol=tol)
    bins = batch["tokens"][:, 1:][is_action] - 32000
    sq = ((value - ((bins + 0.5) / 512 - 1)) ** 2).mean()
    assert torch.allclose(model.loss(batch, 6.0, 50.0), 50.0 * sq, atol=1e-5)
    assert torch.allclose(model.loss(batch), sq, atol=1e-6)  # weight 1 when none is given
    with pytest.raises(ValueError, match="action_head"):
        Gato(dataclasses.replace(TINY, action_head="mixture"))


def test_position_only_action_inputs_make_actions_a_function_of_the_observation():
    """action_inputs: positions: changing the action values fed back inside a timestep changes no prediction (the
    default `values` does), while the observation still does."""
    torch.manual_seed(0)
    batch = _batch()
    is_action = batch["modality"] == Modality.ACTION
    other = dict(batch, tokens=torch.where(is_action, 32000 + (batch["tokens"] - 32000 + 300) % 1024, batch["tokens"]))
    for inputs, same in (("positions", True), ("values", False)):
        model = Gato(dataclasses.replace(TINY, action_inputs=inputs)).eval()
        with torch.no_grad():
            a, b = model(batch)[0], model(other)[0]
        assert torch.allclose(a, b, atol=1e-5) == same, inputs
    with pytest.raises(ValueError, match="action_inputs"):
        Gato(dataclasses.replace(TINY, action_inputs="none"))


def test_value_inputs_without_rows_are_linear_in_the_value():
    """value_rows: false: a value id's input embedding is exactly its bin centre x value_dir (no per-bin row), so
    it is linear in the value; other ids keep their wte row; the option needs value_embedding."""
    model = Gato(dataclasses.replace(TINY, value_embedding=True, value_rows=False))
    ids = torch.tensor([32000, 32300, 32511, 33023])
    centres = (ids - 32000 + 0.5) / 512 - 1
    emb = model.token_embedding(ids)
    assert torch.allclose(emb, centres[:, None] * model.value_dir, atol=1e-7)
    assert float(model.value_dir.detach().abs().sum()) > 0
    text = torch.tensor([17])
    assert torch.equal(model.token_embedding(text), model.wte(text))
    with pytest.raises(ValueError, match="value_rows"):
        Gato(dataclasses.replace(TINY, value_embedding=False, value_rows=False))


def _overfit(config: GatoModelConfig, timesteps: int, steps: int, lr: float) -> tuple[float, float]:
    """(first, last) masked loss of AdamW steps on one fixed batch in training mode (dropout, sampled positions)."""
    torch.manual_seed(0)
    model = Gato(config).train()
    batch = _batch(t=timesteps)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss = model.loss(batch)
        losses.append(float(loss.detach()))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return losses[0], losses[-1]


def test_overfits_a_tiny_dataset():
    """Two timesteps (16 action targets, one-hot CE over the 1024-value head): the loss falls from ~ln(1024) = 6.9
    to below 0.5 in 60 steps."""
    first, last = _overfit(TINY, timesteps=2, steps=60, lr=1e-2)
    assert first > 6.5 and last < 0.5, (first, last)


@pytest.mark.slow
def test_tiny_config_overfits_in_a_few_hundred_steps():
    """The real `tiny` config (dropout 0.1) on six timesteps: below 0.2 within 300 steps at lr 1e-3."""
    first, last = _overfit(CONFIGS["tiny"], timesteps=6, steps=300, lr=1e-3)
    assert first > 6.5 and last < 0.2, (first, last)


def test_timestep_band_limits_history_but_never_the_pinned_tokens():
    """attention_timesteps: a band wider than the window changes nothing; a narrow one hides old timesteps only
    (the prompt/instruction, timestep -1, and text stay visible), so it changes late logits but not early ones."""
    import dataclasses

    from gato_ros.model.gato import timestep_band

    ts = torch.tensor([[-1, -1, 0, 0, 1, 1, 2, 2, 3, 3]])
    mod = torch.full_like(ts, int(Modality.CONTINUOUS))
    mod[0, :2] = int(Modality.TEXT)
    band = timestep_band(ts, mod, 1)[0, 0]
    assert band[:, :2].all()  # the instruction is always seen
    assert band[9, 6] and not band[9, 5] and band[5, 2] and not band[7, 3]  # own + one previous timestep
    mod[0, 5] = int(Modality.ACTION)  # timestep 1's last token, an action: fed in with timestep 2's observation
    assert not timestep_band(ts, mod, 1)[0, 0, 5, 2] and timestep_band(ts, mod, 1)[0, 0, 7, 5]
    batch = _batch(t=6)
    torch.manual_seed(0)
    wide = Gato(dataclasses.replace(TINY, attention_timesteps=6)).eval()  # 6 timesteps + the last action's shift
    narrow = Gato(dataclasses.replace(TINY, attention_timesteps=1)).eval()
    narrow.load_state_dict(wide.state_dict())
    plain = Gato(TINY).eval()
    plain.load_state_dict(wide.state_dict())
    with torch.no_grad():
        h_plain, h_wide, h_narrow = plain.hidden(batch), wide.hidden(batch), narrow.hidden(batch)
    torch.testing.assert_close(h_wide, h_plain)
    real = batch["modality"][0] != int(Modality.PAD)  # trailing pads see the late tokens too
    early = real & (batch["timestep"][0] <= 1)  # the instruction and the first two timesteps see everything anyway,
    early[int(torch.nonzero(early).max())] = False  # except timestep 1's last action, which counts with timestep 2
    assert early.sum() > 0 and (real & ~early).sum() > 0
    torch.testing.assert_close(h_narrow[:, early], h_plain[:, early])
    assert not torch.allclose(h_narrow[:, real & ~early], h_plain[:, real & ~early])
    with pytest.raises(ValueError, match="attention_timesteps"):
        Gato(dataclasses.replace(TINY, attention_timesteps=-1))
