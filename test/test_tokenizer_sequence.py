"""Images, sequencing, loss mask, positions, windows, prompts and the shipped text model."""

import numpy as np
import pytest

from gato_ros.config import ConfigError, GatoConfig, default_config
from gato_ros.episode import Episode
from gato_ros.paths import models_dir
from gato_ros.tokenizer import (
    GatoTokenizer, Modality, TextTokenizer, collate, image_to_patches, patch_spans, preprocess_image, windows,
    with_prompt,
)


def test_patch_order_and_normalization():
    img = np.zeros((32, 48, 3), np.uint8)
    for r in range(2):
        for c in range(3):
            img[r * 16:(r + 1) * 16, c * 16:(c + 1) * 16] = 10 * (r * 3 + c)
    img[0, 0] = [255, 0, 128]
    p = image_to_patches(img)
    assert p.shape == (6, 3, 16, 16)
    for k in range(6):  # raster order: row-major over patches
        assert p[k, 0, 5, 5] == pytest.approx((10 * k / 127.5 - 1) / 4)
    assert p[0, :, 0, 0] == pytest.approx([(255 / 127.5 - 1) / 4, -0.25, (128 / 127.5 - 1) / 4], abs=1e-6)
    assert p.min() >= -0.25 and p.max() <= 0.25
    spans = patch_spans(32, 48)
    assert spans[4].tolist() == pytest.approx([0.5, 1.0, 1 / 3, 2 / 3])


def test_preprocess_crops_to_aspect_then_resizes():
    img = np.zeros((60, 100, 3), np.uint8)
    img[:, 20:80] = 200  # the centre square survives the crop
    out = preprocess_image(img, (32, 32))
    assert out.shape == (32, 32, 3) and out.min() == 200
    with pytest.raises(ValueError):
        preprocess_image(np.zeros((4, 4), np.uint8), (32, 32))


def _episode(t=2, instruction="stack the red object on the blue object"):
    rng = np.random.default_rng(0)
    return Episode(
        images=rng.integers(0, 255, (t, 64, 64, 3), dtype=np.uint8),
        joint_positions=rng.normal(size=(t, 8)), joint_velocities=rng.normal(size=(t, 8)),
        actions=rng.normal(size=(t, 8)) * 5, instruction=instruction,
    )


def test_two_timestep_episode_layout_mask_and_positions():
    tok = GatoTokenizer(default_config())
    ep = _episode()
    seq = tok.episode(ep)
    n_text = len(tok.text.encode(ep.instruction))
    per_step = 16 + 15 + 1 + 8
    assert len(seq) == n_text + 2 * per_step
    mods = seq.modality
    expected_t0 = [Modality.TEXT] * n_text + [Modality.IMAGE] * 16 + [Modality.CONTINUOUS] * 15 \
        + [Modality.SEPARATOR] + [Modality.ACTION] * 8
    expected_t1 = expected_t0[n_text:]
    assert mods.tolist() == [int(m) for m in expected_t0 + expected_t1]
    assert seq.tokens[n_text + 31] == 33024  # '|'
    # loss only on text and actions
    assert np.array_equal(seq.loss_mask == 1, np.isin(mods, [Modality.TEXT, Modality.ACTION]))
    # local positions restart each timestep over the observation block; actions get -1
    obs0 = n_text + 32
    assert seq.local_pos[:obs0].tolist() == list(range(obs0))
    assert (seq.local_pos[obs0:obs0 + 8] == -1).all()
    assert seq.local_pos[obs0 + 8:obs0 + 8 + 32].tolist() == list(range(32))
    assert seq.timestep.tolist() == [0] * (n_text + per_step) + [1] * per_step
    # patch positions only on image tokens
    img = mods == Modality.IMAGE
    assert (seq.patch_pos[~img] == 0).all() and seq.patch_pos[img].max() == 1.0
    # actions round trip through the tokenizer within half a bin
    acts = seq.tokens[mods == Modality.ACTION].reshape(2, 8)
    decoded = np.stack([tok.decode_actions(a) for a in acts])
    assert np.abs(decoded - np.clip(ep.actions, -np.array(tok.action_scale), tok.action_scale)).max() \
        <= (tok.action_scale / 1024).max() + 1e-9


def test_windows_start_on_timestep_boundaries_and_prompt():
    tok = GatoTokenizer(default_config())
    seq = tok.episode(_episode(t=30, instruction=""))
    wins = windows(seq, 1024)
    assert sum(len(w) for w in wins) == len(seq)
    for w in wins:
        assert len(w) <= 1024 and w.modality[0] == Modality.IMAGE and w.local_pos[0] == 0
    rng = np.random.default_rng(1)
    prompt = tok.episode(_episode(t=12, instruction=""))
    got = [with_prompt(seq, prompt, 400, rng, prompt_prob=1.0) for _ in range(20)]
    for g in got:
        assert len(g) <= 400
        head = g.timestep == -1
        assert head.any() and (g.loss_mask[head] == 0).all()
    counts = [with_prompt(seq, prompt, 400, np.random.default_rng(i)).timestep.min() == -1 for i in range(400)]
    assert 0.18 < np.mean(counts) < 0.32  # 25% of sequences get a prompt
    batch = collate(got[:3], 400)
    assert batch["tokens"].shape == (3, 400) and batch["patches"].shape == (3, 400, 3, 16, 16)
    pad = batch["modality"] == Modality.PAD
    assert (batch["loss_mask"][pad] == 0).all()


def test_shipped_text_model_ids_below_32000():
    text = TextTokenizer(models_dir() / "tokenizer" / "gato_text.model")
    ids = text.encode("put the green block onto the blue block, then open the gripper")
    assert len(ids) > 0 and ids.max() < 32000 and text.vocab_size < 32000
    assert text.decode(ids) == "put the green block onto the blue block, then open the gripper"


def test_config_round_trip_and_errors(tmp_path):
    cfg = default_config(name="tiny", n_layer=2)
    cfg.save(tmp_path / "gato.json")
    assert GatoConfig.load(tmp_path / "gato.json") == cfg
    (tmp_path / "bad.json").write_text('{"vocab": {"text_size": 32000, "oops": 1}}')
    with pytest.raises(ConfigError, match="oops"):
        GatoConfig.load(tmp_path / "bad.json")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ConfigError, match="not valid JSON"):
        GatoConfig.load(tmp_path / "broken.json")
    with pytest.raises(ConfigError, match="does not exist"):
        GatoConfig.load(tmp_path / "missing.json")
