"""`gato-ros train` end to end on bags written here: mixture, checkpoints, resume, logs, plot."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from gato_ros.config import ConfigError
from gato_ros.demos.bag import read_episode, write_episode
from gato_ros.episode import Episode
from gato_ros.model.gato import load_checkpoint
from gato_ros.tokenizer import GatoTokenizer
from gato_ros.train.config import TrainConfig
from gato_ros.train.loop import lr_at, train

SMALL = {"n_layer": 1, "n_head": 2, "n_embd": 32, "d_ff": 64, "head_dim": 8, "patch_channels": 8, "dropout": 0.0}


def _demos(root, n=3, t=6):
    rng = np.random.default_rng(0)
    for i in range(n):
        q = rng.normal(size=(t, 8))
        objects = np.tile([0.1, 0.2, 0.05, 1.0, 0.0, 0.0, 0.0], (t, 3)) + rng.normal(size=(t, 21)) * 0.01
        write_episode(root / f"ep{i}", Episode(rng.integers(0, 255, (t, 64, 64, 3), dtype=np.uint8), q,
                                              rng.normal(size=(t, 8)), np.tanh(q) * 5,
                                              instruction="stack the red object on the blue object", success=True,
                                              object_state=objects))


def _cfg(tmp_path, **kw):
    data = {"run_dir": str(tmp_path / "run"), "model": "tiny", "model_overrides": SMALL, "steps": 6,
            "batch_size": 2, "seq_len": 128, "warmup_steps": 2, "checkpoint_every": 3, "log_every": 1,
            "lr": 3e-3, "threads": 1,
            "datasets": [{"name": "demos", "paths": [str(tmp_path / "demos")], "weight": 3.0}]}
    data.update(kw)
    return TrainConfig.from_dict(data)


def test_train_resume_and_outputs(tmp_path):
    _demos(tmp_path / "demos")
    text = tmp_path / "text.txt"
    text.write_text("put the red block on the blue block\nopen the gripper\n")
    cfg = _cfg(tmp_path, steps=3, datasets=[
        {"name": "demos", "paths": [str(tmp_path / "demos")], "weight": 3.0},
        {"name": "text", "text_files": [str(text)], "weight": 1.0}])
    ckpt = train(cfg, progress=False)
    _, gcfg, extra = load_checkpoint(ckpt)
    assert extra["step"] == 3 and gcfg.model["n_embd"] == 32 and extra["data"]["demos"]["sequences"] == 3
    cfg6 = _cfg(tmp_path, steps=6, datasets=[
        {"name": "demos", "paths": [str(tmp_path / "demos")], "weight": 3.0},
        {"name": "text", "text_files": [str(text)], "weight": 1.0}])
    train(cfg6, resume=True, progress=False)
    resumed, _, extra = load_checkpoint(ckpt)
    assert extra["step"] == 6
    # deterministic: an uninterrupted 6-step run with the same seed ends with the very same weights
    straight, _, _ = load_checkpoint(train(dataclasses.replace(cfg6, run_dir=str(tmp_path / "straight")),
                                           progress=False))
    for (name, a), b in zip(resumed.state_dict().items(), straight.state_dict().values()):
        assert torch.equal(a, b), name
    rows = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("step,loss") and len(rows) == 7  # header + 6 logged steps across the resume
    assert [r["step"] for r in json.loads((tmp_path / "run" / "metrics.json").read_text())] == [1, 2, 3, 4, 5, 6]
    assert (tmp_path / "run" / "loss.png").stat().st_size > 1000


def test_object_state_run_writes_its_gato_json_and_heldout_metric(tmp_path):
    """Tokenizer overrides, the window and prompt budget reach gato.json; image-free windows start with the
    instruction; the held-out action error is logged."""
    from gato_ros.tokenizer import GatoTokenizer, Modality
    from gato_ros.train.data import Mixture, load_control
    from gato_ros.train.loop import gato_config_for

    _demos(tmp_path / "demos", n=2, t=5)
    cfg = _cfg(tmp_path, steps=2, tokenizer={"use_image": False, "object_state": True}, prompt_tokens=200,
               action_sigma_bins=8.0, eval_paths=[str(tmp_path / "demos")], eval_every=1, eval_windows=2)
    _, gcfg, _ = load_checkpoint(train(cfg, progress=False))
    assert not gcfg.tokenizer.use_image and gcfg.tokenizer.object_state
    assert gcfg.model["context_window"] == 128 and gcfg.model["prompt_tokens"] == 64  # min(200, 128 // 2)
    rows = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert all(0 <= r["heldout_action_error"] < 2 for r in rows)
    tok = GatoTokenizer(gato_config_for(cfg))
    mix = Mixture([load_control(cfg.datasets[0], tok, progress=False)], 128, 0.0, 0, seed=0)
    window = mix.sample()
    n_text = int((window.modality == Modality.TEXT).sum())
    assert n_text > 0 and (window.modality[:n_text] == Modality.TEXT).all() and window.loss_mask[:n_text].sum() == 0
    assert not (window.modality == Modality.IMAGE).any() and window.local_pos[n_text] == 0
    assert (len(window) - n_text) % tok.tokens_per_timestep() == 0 and tok.tokens_per_timestep() == 45
    with pytest.raises(ConfigError, match="tokenizer: unknown keys"):
        _cfg(tmp_path, tokenizer={"objects": True})
    with pytest.raises(ConfigError, match="decoding"):
        _cfg(tmp_path, tokenizer={"decoding": "mean"})


def test_observation_jitter_moves_observation_tokens_only(tmp_path):
    """`obs_jitter_bins` moves continuous observation tokens by small bin offsets inside the value range and leaves
    text, separators, actions and loss masks exactly as they were; snapshots are kept every `snapshot_every`."""
    from gato_ros.tokenizer import GatoTokenizer, Modality
    from gato_ros.train.data import Mixture, load_control
    from gato_ros.train.loop import gato_config_for

    _demos(tmp_path / "demos", n=2, t=5)
    cfg = _cfg(tmp_path, tokenizer={"use_image": False, "object_state": True}, obs_jitter_bins=2.0, steps=4,
               snapshot_every=2)
    tok = GatoTokenizer(gato_config_for(cfg))
    src = [load_control(cfg.datasets[0], tok, progress=False)]
    lo, hi = tok.vocab.continuous_offset, tok.vocab.continuous_offset + tok.vocab.num_bins
    plain = Mixture(src, 128, 0.0, 0, seed=0).batch(20)
    jitter = Mixture(src, 128, 0.0, 0, seed=0, obs_jitter_bins=2.0, value_range=(lo, hi))
    assert len(jitter.sample()) > 0  # sampling applies it
    moved = []
    for a in plain:
        b = jitter.jitter(a)
        obs = a.modality == Modality.CONTINUOUS
        assert np.array_equal(a.tokens[~obs], b.tokens[~obs]) and np.array_equal(a.loss_mask, b.loss_mask)
        assert ((b.tokens[obs] >= lo) & (b.tokens[obs] < hi)).all()
        moved.append(b.tokens[obs] - a.tokens[obs])
    moved = np.concatenate(moved)
    assert 1.5 < moved.std() < 2.5 and (moved != 0).mean() > 0.5 and abs(moved).max() <= 12
    with pytest.raises(ValueError, match="obs_jitter_bins"):
        Mixture(src, 128, 0.0, 0, seed=0, obs_jitter_bins=1.0)
    train(cfg, progress=False)
    assert sorted(p.name for p in (tmp_path / "run" / "snapshots").iterdir()) == ["step_2.pt", "step_4.pt"]


def test_robot_field_chooses_the_registry_arm_of_gato_json(tmp_path):
    """`robot: panda` in the YAML gives gato.json the Panda's joints and limits (the Sawyer's stays the default)."""
    from gato_ros.config import RobotConfig

    assert _cfg(tmp_path).robot_config() == RobotConfig()
    panda = _cfg(tmp_path, robot="panda", action_scale=[1.0] * 8).robot_config()
    assert panda.name == "panda" and panda.joint_names[-1] == "panda_finger_joint1" and panda.action_scale == (1.0,) * 8
    with pytest.raises(Exception, match="ur5e"):
        _cfg(tmp_path, robot="ur5e").robot_config()


def test_action_scale_override_reaches_gato_json_and_tokens(tmp_path):
    """`action_scale:` in the YAML replaces the robot's divisors in gato.json, so the same effort lands on a
    bin 10x further from the centre; a wrong length fails at load, before any data is read."""
    from gato_ros.train.loop import gato_config_for

    scale = (8.0, 20.0, 8.0, 20.0, 5.0, 6.0, 11.0, 2.0)
    cfg = _cfg(tmp_path, action_scale=list(scale))
    gato = gato_config_for(cfg)
    assert gato.robot.action_scale == scale and gato.robot.effort_limit == (80, 80, 40, 40, 9, 9, 9, 1)
    wide, narrow = GatoTokenizer(gato), GatoTokenizer(gato_config_for(_cfg(tmp_path)))
    effort = np.array([4.0, 0, 0, 0, 0, 0, 0, 1.0])
    centre = gato.vocab.continuous_offset + 512
    assert (wide.action_ids(effort)[0] - centre, narrow.action_ids(effort)[0] - centre) == (256, 25)
    assert wide.decode_action_value(0, 0.5) == 4.0 and wide.decode_action_value(0, 1.0) == 8.0
    with pytest.raises(ConfigError, match="action_scale"):
        _cfg(tmp_path, action_scale=[1.0, 2.0])


def test_schedule_and_config_errors(tmp_path):
    cfg = _cfg(tmp_path, steps=100, warmup_steps=10, lr=1.0, min_lr_ratio=0.1)
    assert lr_at(0, cfg) == pytest.approx(0.1) and lr_at(9, cfg) == pytest.approx(1.0)
    assert lr_at(99, cfg) == pytest.approx(0.1, abs=1e-3)
    with pytest.raises(ConfigError, match="unknown keys"):
        TrainConfig.from_dict({"datasets": [{"name": "x", "paths": ["a"]}], "bogus": 1})
    with pytest.raises(ConfigError, match="no datasets"):
        TrainConfig.from_dict({})


@pytest.mark.slow
def test_loss_falls_on_demo_data(tmp_path):
    _demos(tmp_path / "demos", n=2, t=4)
    # one-hot targets: with HL-Gauss (sigma 32) the loss cannot fall below the target entropy, ~4.9 nats
    ckpt = train(_cfg(tmp_path, steps=60, checkpoint_every=60, prompt_prob=0.0, log_every=5, action_sigma_bins=0.0),
                 progress=False)
    rows = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert rows[0]["loss"] > 6.0 and rows[-1]["loss"] < rows[0]["loss"] * 0.6, rows
    assert ckpt.is_file()


def test_mixture_samples_datasets_by_weight(tmp_path):
    from gato_ros.config import default_config
    from gato_ros.tokenizer import GatoTokenizer, Modality, collate
    from gato_ros.train.data import Mixture, load_control, load_text

    _demos(tmp_path / "demos", n=2, t=3)
    text = tmp_path / "text.txt"
    text.write_text("put the red block on the blue block\n")
    cfg = _cfg(tmp_path, datasets=[{"name": "demos", "paths": [str(tmp_path / "demos")], "weight": 3.0},
                                   {"name": "text", "text_files": [str(text)], "weight": 1.0}])
    tok = GatoTokenizer(default_config())
    sources = [load_control(cfg.datasets[0], tok, progress=False), load_text(cfg.datasets[1], tok)]
    mix = Mixture(sources, 128, prompt_prob=0.0, prompt_tokens=32, seed=0)
    is_text = [bool((s.modality == Modality.TEXT).all()) for s in mix.batch(400)]
    assert 0.18 < np.mean(is_text) < 0.32  # weight 1 of 4
    # demo patches are kept as float16 and come back as float32 within a fraction of a pixel level
    full = tok.episode(read_episode(sorted((tmp_path / "demos").iterdir())[0]))
    stored = sources[0].sequences[0]
    assert stored.patches.dtype == np.float16 and np.abs(stored.patches - full.patches).max() < 0.1 / 127.5 / 4
    assert collate([stored], len(stored))["patches"].dtype == torch.float32


def test_cli_trains_from_yaml_on_bags(tmp_path, capsys):
    """`gato-ros train --config X.yaml` as a user runs it: progress on stderr, a checkpoint and logs."""
    from gato_ros.cli import main

    _demos(tmp_path / "demos", n=2, t=3)
    cfg = {"run_dir": str(tmp_path / "run"), "model": "tiny", "model_overrides": SMALL, "steps": 2, "batch_size": 1,
           "seq_len": 64, "warmup_steps": 1, "log_every": 1, "threads": 1,
           "datasets": [{"name": "demos", "paths": [str(tmp_path / "demos")]}]}
    (tmp_path / "t.yaml").write_text(json.dumps(cfg))  # JSON is YAML
    assert main(["train", "--config", str(tmp_path / "t.yaml")]) == 0
    out = capsys.readouterr()
    assert "checkpoint:" in out.out and "train" in out.err and "tok_s" in out.err
    assert (tmp_path / "run" / "checkpoint.pt").is_file() and (tmp_path / "run" / "metrics.json").is_file()
    assert main(["train", "--config", str(tmp_path / "none.yaml")]) == 2
    assert "does not exist" in capsys.readouterr().err
    cfg["datasets"] = [{"name": "empty", "paths": [str(tmp_path / "nothing_here")]}]
    (tmp_path / "e.yaml").write_text(json.dumps(cfg))
    assert main(["train", "--config", str(tmp_path / "e.yaml")]) == 2
    assert "nothing_here does not exist" in capsys.readouterr().err


def test_init_checkpoint_starts_from_its_weights_at_step_zero(tmp_path):
    _demos(tmp_path / "demos")
    base = train(_cfg(tmp_path, steps=2, checkpoint_every=2), progress=False)
    start, _, _ = load_checkpoint(base)
    # lr 0: the fine-tune run must hold exactly the initial weights, with a fresh step count
    tuned = train(_cfg(tmp_path, steps=1, lr=0.0, run_dir=str(tmp_path / "tune"), init_checkpoint=str(base)),
                  progress=False)
    model, _, extra = load_checkpoint(tuned)
    assert extra["step"] == 1
    for (name, a), b in zip(model.state_dict().items(), start.state_dict().values()):
        assert torch.equal(a, b), name
    with pytest.raises(ValueError, match="does not fit"):
        train(_cfg(tmp_path, steps=1, run_dir=str(tmp_path / "bad"), init_checkpoint=str(base),
                   model_overrides={**SMALL, "n_embd": 64}), progress=False)


def test_weight_average_follows_its_recursion_and_survives_resume(tmp_path):
    """ema_decay keeps avg <- d * avg + (1 - d) * w after every step beside unchanged training; a run resumed at
    every step ends with the same average as an uninterrupted one, saved as a loadable checkpoint."""
    _demos(tmp_path / "demos")
    d = 0.5
    plain = load_checkpoint(train(_cfg(tmp_path, steps=4, run_dir=str(tmp_path / "plain")), progress=False))[0]
    straight = tmp_path / "straight"
    train(_cfg(tmp_path, steps=4, ema_decay=d, run_dir=str(straight)), progress=False)
    stepped, weights = tmp_path / "stepped", []
    for n in range(1, 5):
        train(_cfg(tmp_path, steps=n, checkpoint_every=1, ema_decay=d, run_dir=str(stepped)), resume=n > 1,
              progress=False)
        weights.append(load_checkpoint(stepped / "checkpoint.pt")[0].state_dict())
    for name, p in plain.state_dict().items():  # the average never feeds back into training
        assert torch.equal(p, weights[-1][name]), name
    avg, _, extra = load_checkpoint(straight / "checkpoint_ema.pt")
    assert extra["step"] == 4 and extra["ema_decay"] == d
    resumed = load_checkpoint(stepped / "checkpoint_ema.pt")[0].state_dict()
    # lr 0 for one step leaves the initial weights, where the average starts
    w0 = load_checkpoint(train(_cfg(tmp_path, steps=1, lr=0.0, run_dir=str(tmp_path / "w0")), progress=False))[0]
    for name, p in avg.state_dict().items():
        expect = w0.state_dict()[name].clone()
        for w in weights:
            expect = d * expect + (1 - d) * w[name]
        assert torch.allclose(p, expect, atol=1e-6), name
        assert torch.allclose(p, resumed[name], atol=1e-7), name
        if "weight" in name and p.dim() >= 2:
            assert not torch.equal(p, weights[-1][name]), name  # an average, not a copy
    with pytest.raises(ConfigError, match="ema_decay"):
        _cfg(tmp_path, ema_decay=1.0)


def test_banded_model_trains_exports_and_rolls_its_cache(tmp_path):
    """model_overrides.attention_timesteps reaches the checkpoint, gato.json and the runtime: the exported policy
    rolls one timestep per step at its training window and never prefills again."""
    from gato_ros.export.build import export_checkpoint
    from gato_ros.runtime import GatoPolicy

    _demos(tmp_path / "demos", n=2, t=6)
    cfg = _cfg(tmp_path, steps=2, model_overrides={**SMALL, "attention_timesteps": 1},
               tokenizer={"use_image": False, "object_state": True}, seq_len=160)
    model, _, _ = load_checkpoint(train(cfg, progress=False))
    assert model.config.attention_timesteps == 1
    policy = GatoPolicy(export_checkpoint(tmp_path / "run" / "checkpoint.pt", tmp_path / "model"), provider="cpu")
    assert policy.band == 1 and policy.max_context_tokens == 160
    rng = np.random.default_rng(0)
    for _ in range(5):
        policy.act(None, rng.normal(size=15), "stack the red object on the blue object", objects=rng.normal(size=21))
    assert policy.reprefills == 0 and list(policy.window.steps)[0] == 1 and len(policy.window.steps) == 3
