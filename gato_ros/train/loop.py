"""The training loop: AdamW, warmup + cosine decay, clipping, checkpoints and resume, logs and a loss plot."""

from __future__ import annotations

import copy
import csv
import dataclasses
import json
import logging
import math
import random
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from gato_ros.config import GatoConfig
from gato_ros.model.gato import CONFIGS, Gato, GatoModelConfig, load_checkpoint, save_checkpoint
from gato_ros.tokenizer import GatoTokenizer, Modality, collate, read_bins
from gato_ros.tokenizer.continuous import bin_centres
from gato_ros.train.config import DatasetConfig, TrainConfig
from gato_ros.train.data import Mixture, load_control, load_text

LOG = logging.getLogger(__name__)
PAD = int(Modality.PAD)


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warmup to `lr`, then cosine decay to `lr * min_lr_ratio` at the last step."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps))
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


class WeightAverage:
    """Exponential moving average of a model's weights: avg <- decay * avg + (1 - decay) * weights after each
    step (buffers copied). Smooths the last ~1 / (1 - decay) steps' noise out of the policy that is exported."""

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"ema_decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        avg, new = list(self.model.parameters()), [p.detach() for p in model.parameters()]
        torch._foreach_lerp_(avg, new, 1.0 - self.decay)
        for b_avg, b_new in zip(self.model.buffers(), model.buffers()):
            b_avg.copy_(b_new)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' requested but torch sees no CUDA device")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def plot_losses(rows: list[dict], path: Path) -> None:
    """Loss curve (log scale) of a run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot([r["step"] for r in rows], [r["loss"] for r in rows])
    ax.set_xlabel("step")
    ax.set_ylabel("masked loss (text + action tokens)")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_metrics(rows: list[dict], run: Path) -> None:
    """The logged rows as run/metrics.csv and run/metrics.json (rewritten at every log step)."""
    if rows:
        with (run / "metrics.csv").open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    (run / "metrics.json").write_text(json.dumps(rows, indent=1))


def gato_config_for(cfg: TrainConfig) -> GatoConfig:
    """The gato.json a run writes: tokenizer overrides, the network (with overrides), the training window and
    prompt budget (the runtime sizes its context and prompt with them)."""
    if cfg.model not in CONFIGS:
        raise ValueError(f"unknown model config {cfg.model!r}; choose from {sorted(CONFIGS)}")
    model_cfg = dataclasses.replace(CONFIGS[cfg.model], **cfg.model_overrides)
    return GatoConfig(tokenizer=cfg.tokenizer_config(), robot=cfg.robot_config(),
                      model={"name": cfg.model, **dataclasses.asdict(model_cfg), "context_window": cfg.seq_len,
                             "prompt_tokens": min(cfg.prompt_tokens, cfg.seq_len // 2)})


def heldout_batch(cfg: TrainConfig, tok: GatoTokenizer) -> dict | None:
    """A fixed batch of held-out windows (instruction + timesteps, no prompt) for the action metric, or None."""
    if not (cfg.eval_paths and cfg.eval_every):
        return None
    src = load_control(DatasetConfig(name="heldout", paths=cfg.eval_paths), tok, progress=False)
    mixture = Mixture([src], cfg.seq_len, 0.0, 0, cfg.seed)
    return collate(mixture.batch(cfg.eval_windows), cfg.seq_len)


def action_error(model: Gato, batch: dict, tok: GatoTokenizer) -> float:
    """Mean |decoded - true| action effort over a batch's action targets, in units of each joint's effort limit,
    decoded the way gato.json says (`tokenizer.decoding`, `tokenizer.gripper_decoding`)."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        h = model.hidden(batch)
        is_action = batch["modality"][:, 1:] == int(Modality.ACTION)
        logits = model.action_logits(h[:, :-1][is_action]).cpu().numpy()
    model.train(was_training)
    dims = np.arange(int(is_action.sum())) % tok.num_actions  # action targets come in whole blocks of n_actions
    true = bin_centres(batch["tokens"][:, 1:][is_action].cpu().numpy() - tok.vocab.continuous_offset,
                       tok.vocab.num_bins)
    modes = np.array(tok.decoding_modes())[dims]
    pred = np.empty(len(dims))
    for mode in set(modes):
        pred[modes == mode] = read_bins(logits[modes == mode], mode)
    scale = tok.action_scale[dims] / tok.effort_limit[dims]
    return float(np.mean(np.abs(pred - true) * scale))


def train(cfg: TrainConfig, resume: bool = False, progress: bool = True) -> Path:
    """Train per `cfg`; returns the final checkpoint path (run_dir/checkpoint.pt)."""
    run = Path(cfg.run_dir)
    run.mkdir(parents=True, exist_ok=True)
    seed_everything(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = pick_device(cfg.device)
    ckpt_path = run / "checkpoint.pt"
    gato_config = gato_config_for(cfg)
    model_cfg = GatoModelConfig.from_dict(gato_config.model)
    tok = GatoTokenizer(gato_config)
    sources = [load_control(d, tok, progress) if d.paths else load_text(d, tok) for d in cfg.datasets]
    values = (tok.vocab.continuous_offset, tok.vocab.continuous_offset + tok.vocab.num_bins)
    mixture = Mixture(sources, cfg.seq_len, cfg.prompt_prob, cfg.prompt_tokens, cfg.seed, cfg.start_prob,
                      cfg.start_steps, cfg.obs_jitter_bins, values)
    heldout = heldout_batch(cfg, tok)
    model = Gato(model_cfg).to(device)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr, betas=cfg.betas, eps=cfg.eps)
    start, rows = 0, []
    log_csv = run / "metrics.csv"
    ema_path = run / "checkpoint_ema.pt"  # the average as an exportable checkpoint (its resume state: checkpoint.pt)
    ema_state: dict | None = None
    if resume and ckpt_path.is_file():
        loaded, _, extra = load_checkpoint(ckpt_path)
        model.load_state_dict(loaded.state_dict())
        if extra.get("optimizer"):
            opt.load_state_dict(extra["optimizer"])
        ema_state = extra.get("ema_state_dict")  # None: the average starts at the resumed weights
        start = int(extra["step"])
        LOG.info("resuming %s at step %d", ckpt_path, start)
        if log_csv.is_file():
            with log_csv.open() as f:
                rows = [{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)
                        if int(float(r["step"])) <= start]
    elif cfg.init_checkpoint:
        init, _, _ = load_checkpoint(cfg.init_checkpoint)
        try:  # a run that adds value_embedding (zero: the same function) or a regression head starts them fresh
            missing, unexpected = model.load_state_dict(init.state_dict(), strict=False)
            if unexpected or set(missing) - {"value_dir", "value_head.weight", "value_head.bias"}:
                raise RuntimeError(f"missing {missing}, unexpected {unexpected}")
        except RuntimeError as exc:
            raise ValueError(f"init_checkpoint {cfg.init_checkpoint} does not fit model {cfg.model!r}: "
                             f"{exc}") from exc
        LOG.info("starting from the weights of %s", cfg.init_checkpoint)
    ema = WeightAverage(model, cfg.ema_decay) if cfg.ema_decay else None
    if ema is not None and ema_state is not None:
        ema.model.load_state_dict(ema_state)
    (run / "train_config.json").write_text(json.dumps(cfg.to_dict(), indent=2, default=str))
    data_info = {s.config.name: {"sequences": len(s.sequences), "tokens": s.tokens, "weight": s.config.weight}
                 for s in sources}
    (run / "data.json").write_text(json.dumps(data_info, indent=2))
    model.train()
    bar = tqdm(range(start, cfg.steps), initial=start, total=cfg.steps, desc="train", disable=not progress)
    t_last, tokens_since, losses = time.perf_counter(), 0, []
    for step in bar:
        # every step's randomness (data, dropout, patch positions) depends only on (seed, step): a resumed
        # run continues exactly like an uninterrupted one
        mixture.rng = np.random.default_rng([cfg.seed, step])
        torch.manual_seed(cfg.seed * 1_000_003 + step)
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg)
        batch = {k: v.to(device) for k, v in collate(mixture.batch(cfg.batch_size), cfg.seq_len).items()}
        loss = model.loss(batch, cfg.action_sigma_bins, cfg.action_value_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip))
        opt.step()
        if ema is not None:
            ema.update(model)
        tokens_since += int((batch["modality"] != PAD).sum())
        if heldout is not None and ((step + 1) % cfg.eval_every == 0 or step == start):
            t_eval = time.perf_counter()
            heldout_error = action_error(model, {k: v.to(device) for k, v in heldout.items()}, tok)
            t_last += time.perf_counter() - t_eval  # tokens/s counts training only
        losses.append(float(loss.detach()))
        if (step + 1) % cfg.log_every == 0 or step + 1 == cfg.steps:
            now = time.perf_counter()
            row = {"step": step + 1, "loss": sum(losses) / len(losses), "lr": lr_at(step, cfg),
                   "grad_norm": grad_norm, "tokens_per_s": tokens_since / (now - t_last)}
            if heldout is not None:  # the latest evaluation (one CSV schema)
                row["heldout_action_error"] = heldout_error
            rows.append(row)
            t_last, tokens_since, losses = time.perf_counter(), 0, []
            bar.set_postfix(loss=f"{row['loss']:.3f}", tok_s=f"{row['tokens_per_s']:.0f}")
            write_metrics(rows, run)
        if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps:
            resume_state = {"ema_state_dict": ema.model.state_dict()} if ema is not None else {}
            save_checkpoint(ckpt_path, model, step + 1, gato_config, optimizer_state=opt.state_dict(),
                            extra={"train_config": cfg.to_dict(), "data": data_info, **resume_state})
            if ema is not None:
                save_checkpoint(ema_path, ema.model, step + 1, gato_config,
                                extra={"train_config": cfg.to_dict(), "data": data_info, "ema_decay": cfg.ema_decay})
            if rows:  # an interrupted run keeps a plot up to its last checkpoint
                plot_losses(rows, run / "loss.png")
        if cfg.snapshot_every and (step + 1) % cfg.snapshot_every == 0:  # for learning curves (weights only)
            save_checkpoint(run / "snapshots" / f"step_{step + 1}.pt", model, step + 1, gato_config,
                            extra={"train_config": cfg.to_dict(), "data": data_info})
            if ema is not None:
                save_checkpoint(run / "snapshots" / f"step_{step + 1}_ema.pt", ema.model, step + 1, gato_config,
                                extra={"train_config": cfg.to_dict(), "data": data_info, "ema_decay": cfg.ema_decay})
    write_metrics(rows, run)
    if rows:
        plot_losses(rows, run / "loss.png")
    return ckpt_path
