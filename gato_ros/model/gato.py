"""Gato (Reed et al. 2022) in one file: config, patch embedding, decoder blocks, the model, checkpoints.

Reads top to bottom like nanoGPT's model.py. Inputs are the tokenizer's per-token arrays (see
gato_ros.tokenizer.sequence): token ids, modality tags, local observation positions, image patches and
their spans. There are no absolute positions: only patch row/column and local observation encodings.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from gato_ros.config import TokenizerConfig, VocabConfig
from gato_ros.tokenizer.sequence import Modality

#: continuous value ids (gato.json vocab): the only valid ids of an action token
VALUE_START, NUM_VALUES = VocabConfig.continuous_offset, VocabConfig.num_bins


@dataclass(frozen=True)
class GatoModelConfig:
    """Network size; `head_dim` is the key/value size (n_head * head_dim may differ from n_embd, as in 79M)."""

    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    d_ff: int = 512
    head_dim: int = 32
    vocab_size: int = VocabConfig.vocab_size
    max_local_positions: int = 512
    max_action_positions: int = 32  # rows of the action-dimension embedding (8 joints used)
    smooth_value_init: bool = True  # value-id embeddings start as sinusoids of the value (see Gato._init_values)
    value_embedding: bool = False  # value ids also add their bin centre x a learned vector (see Gato.token_embedding)
    value_rows: bool = True  # value ids add their own wte row as input (False: only the linear term; value_embedding)
    action_head: str = "bins"  # bins: tied 1024-value head (the paper); regression: a linear value (Gato.action_logits)
    action_inputs: str = "values"  # values: action tokens are embedded (the paper); positions: only their dimension
    num_pos_bins: int = TokenizerConfig.num_pos_bins
    patch_size: int = TokenizerConfig.patch_size
    patch_channels: int = 32
    dropout: float = 0.1
    block_size: int = 1024
    # > 0: a timestep's tokens attend to the pinned prompt and instruction, their own timestep and the previous
    # attention_timesteps ones only (`timestep_band`), so the runtime's cache rolls one timestep at a time and is
    # never prefilled again (docs/RUNTIME.md, "Eviction"); 0: everything earlier in the window (the paper)
    attention_timesteps: int = 0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "GatoModelConfig":
        """Build from gato.json's `model` section, ignoring its non-network keys (name, onnx, ...)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def _cfg(n_layer: int, n_head: int, n_embd: int, d_ff: int, head_dim: int, channels: int) -> GatoModelConfig:
    return GatoModelConfig(n_layer=n_layer, n_head=n_head, n_embd=n_embd, d_ff=d_ff, head_dim=head_dim,
                           patch_channels=channels)


CONFIGS: dict[str, GatoModelConfig] = {
    "tiny": _cfg(4, 4, 128, 512, 32, 16),      # CPU: trains on a laptop, runs at 20 Hz
    "small": _cfg(6, 8, 256, 1024, 32, 32),
    "79m": _cfg(8, 24, 768, 3072, 32, 64),     # Table 5 of the paper
    "364m": _cfg(12, 12, 1536, 6144, 128, 64),
    "1.18b": _cfg(24, 16, 2048, 8192, 128, 64),
}


def param_count(c: GatoModelConfig) -> int:
    """Parameters of Gato(c), computed without building it (for the 364M and 1.18B configs)."""
    d, inner, ch, p = c.n_embd, c.n_head * c.head_dim, c.patch_channels, c.patch_size
    patch = (3 * ch * 9 + ch) + 2 * (2 * ch + ch * ch * 9 + ch) + 2 * ch + (ch * ch * 16 + ch) \
        + (ch * (p // 4) ** 2 * d + d)
    block = 2 * d + 3 * (d * inner + inner) + (inner * d + d) + 2 * d + (d * c.d_ff + c.d_ff) + (c.d_ff * d + d)
    positions = 2 * c.num_pos_bins * d + (c.max_local_positions + c.max_action_positions) * d
    head = (d + 1) * (c.action_head == "regression")
    return c.vocab_size * d + patch + positions + c.n_layer * block + 2 * d + d * c.value_embedding + head


class PatchEmbedding(nn.Module):
    """One ResNet v2 (pre-activation, GroupNorm + GELU) block on a 3x16x16 patch, projected to the model width."""

    def __init__(self, c: GatoModelConfig) -> None:
        super().__init__()
        ch = c.patch_channels
        groups = min(8, ch)
        self.stem = nn.Conv2d(3, ch, 3, padding=1)
        self.norm1 = nn.GroupNorm(groups, ch)
        self.conv1 = nn.Conv2d(ch, ch, 3, padding=1)
        self.norm2 = nn.GroupNorm(groups, ch)
        self.conv2 = nn.Conv2d(ch, ch, 3, padding=1)
        self.norm_out = nn.GroupNorm(groups, ch)
        self.down = nn.Conv2d(ch, ch, 4, stride=4)  # 16x16 -> 4x4
        self.proj = nn.Linear(ch * (c.patch_size // 4) ** 2, c.n_embd)

    def forward(self, patches: torch.Tensor) -> torch.Tensor:  # [N, 3, p, p] -> [N, D]
        x = self.stem(patches)
        h = self.conv1(F.gelu(self.norm1(x)))
        x = x + self.conv2(F.gelu(self.norm2(h)))
        x = self.down(F.gelu(self.norm_out(x)))
        return self.proj(x.flatten(1))


def timestep_band(timestep: torch.Tensor, modality: torch.Tensor, steps: int) -> torch.Tensor:
    """[B, 1, L, L] keys each token may see (with causality) under `attention_timesteps` = steps: pinned tokens
    (timestep -1: prompt, instruction) and text always, others when at most `steps` timesteps back. A timestep's
    last action token counts with the next timestep, because the runtime feeds it in with the next observation:
    so the band is exactly what a KV cache that rolls out one timestep before each observation holds."""
    nxt = torch.cat([timestep[:, 1:], torch.full_like(timestep[:, :1], -2)], dim=1)
    last_action = (modality == int(Modality.ACTION)) & (nxt != timestep) & (timestep >= 0)
    group = timestep + last_action.long()
    q, k = group[:, :, None], group[:, None, :]
    pinned = (k < 0) | (modality == int(Modality.TEXT))[:, None, :] | (q < 0)
    return (pinned | (q - k <= steps))[:, None]


class Attention(nn.Module):
    """Multi-head causal self-attention over [past keys/values + new tokens]."""

    def __init__(self, c: GatoModelConfig) -> None:
        super().__init__()
        self.n_head, self.head_dim = c.n_head, c.head_dim
        inner = c.n_head * c.head_dim
        self.q = nn.Linear(c.n_embd, inner)
        self.k = nn.Linear(c.n_embd, inner)
        self.v = nn.Linear(c.n_embd, inner)
        self.proj = nn.Linear(inner, c.n_embd)

    def forward(self, x: torch.Tensor, past_k: torch.Tensor, past_v: torch.Tensor, allowed: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """`allowed` [B, 1, n, t] (optional) further restricts which keys each new token sees (`timestep_band`)."""
        b, n, _ = x.shape
        split = lambda t: t.view(b, n, self.n_head, self.head_dim).transpose(1, 2)  # noqa: E731
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        k = torch.cat([past_k, k], dim=2)
        v = torch.cat([past_v, v], dim=2)
        t = k.shape[2]
        # new token i sits at absolute index (t - n + i) and sees keys 0 .. t - n + i. No dropout on the attention
        # probabilities: on the CPU it makes the attention kernel ~4x slower (training step ~3x); the residual and
        # embedding dropout stay.
        mask = torch.arange(t, device=x.device)[None, :] <= (torch.arange(n, device=x.device)[:, None] + (t - n))
        if allowed is not None:
            mask = mask & allowed
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.proj(y.transpose(1, 2).reshape(b, n, -1)), k, v


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(ln(x)), then x + mlp(ln(x)) with GELU."""

    def __init__(self, c: GatoModelConfig) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(c.n_embd)
        self.attn = Attention(c)
        self.ln2 = nn.LayerNorm(c.n_embd)
        self.fc = nn.Linear(c.n_embd, c.d_ff)
        self.out = nn.Linear(c.d_ff, c.n_embd)
        self.drop = nn.Dropout(c.dropout)

    def forward(self, x: torch.Tensor, past_k: torch.Tensor, past_v: torch.Tensor, allowed: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        a, k, v = self.attn(self.ln1(x), past_k, past_v, allowed)
        x = x + self.drop(a)
        return x + self.drop(self.mlp(x)), k, v

    def mlp(self, x: torch.Tensor) -> torch.Tensor:
        """The feed-forward branch: out(gelu(fc(ln2(x))))."""
        return self.out(F.gelu(self.fc(self.ln2(x))))


class Gato(nn.Module):
    """Decoder-only Gato: shared token embedding in and out, ResNet patch embedding, prompt = prefix tokens."""

    def __init__(self, config: GatoModelConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.wte = nn.Embedding(c.vocab_size, c.n_embd)
        self.patch_embed = PatchEmbedding(c)
        self.row_pos = nn.Embedding(c.num_pos_bins, c.n_embd)
        self.col_pos = nn.Embedding(c.num_pos_bins, c.n_embd)
        self.local_pos = nn.Embedding(c.max_local_positions, c.n_embd)
        self.action_pos = nn.Embedding(c.max_action_positions, c.n_embd)
        if not (c.value_embedding or c.value_rows):
            raise ValueError("value_rows: false needs value_embedding: true (a value input must enter somehow)")
        self.value_dir = nn.Parameter(torch.zeros(c.n_embd)) if c.value_embedding else None
        if c.attention_timesteps < 0:
            raise ValueError(f"attention_timesteps must be >= 0 (0: the whole window), got {c.attention_timesteps}")
        if c.action_head not in ("bins", "regression"):
            raise ValueError(f"action_head must be 'bins' or 'regression', got {c.action_head!r}")
        self.value_head = nn.Linear(c.n_embd, 1) if c.action_head == "regression" else None
        if c.action_inputs not in ("values", "positions"):
            raise ValueError(f"action_inputs must be 'values' or 'positions', got {c.action_inputs!r}")
        self.drop = nn.Dropout(c.dropout)
        self.blocks = nn.ModuleList(Block(c) for _ in range(c.n_layer))
        self.ln_f = nn.LayerNorm(c.n_embd)
        self.apply(self._init)
        if c.smooth_value_init:
            self._init_values()
        if not c.value_rows:  # the linear term is the only value input: it must not start at zero
            nn.init.normal_(self.value_dir, std=0.02 * math.sqrt(3.0))

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)

    @torch.no_grad()
    def _init_values(self) -> None:
        """Start the 1024 value-id embeddings as sinusoids of their bin's value (std 0.02, like the others): nearby
        bins start alike, so continuous inputs (proprio, object poses) and the tied action head are ordinal from
        the first step instead of 1024 unrelated vectors, each learned only from the windows that contain it."""
        v = (torch.arange(NUM_VALUES, dtype=torch.float64) + 0.5) / NUM_VALUES * 2 - 1
        freqs = torch.logspace(math.log10(0.5), math.log10(128.0), self.config.n_embd // 2, dtype=torch.float64)
        angle = math.pi * v[:, None] * freqs[None, :]
        emb = torch.cat([torch.sin(angle), torch.cos(angle)], dim=-1)
        emb = torch.nn.functional.pad(emb, (0, self.config.n_embd - emb.shape[1]))
        self.wte.weight[VALUE_START:VALUE_START + NUM_VALUES] = (0.02 * emb / emb.std()).to(self.wte.weight.dtype)

    def token_embedding(self, tokens: torch.Tensor) -> torch.Tensor:
        """[..., D] input embedding of token ids: the `wte` row, plus (with `value_embedding`) a value id's bin
        centre in [-1, 1] times the learned `value_dir`.

        Why: a lookup row per bin knows nothing of order, so each of the 1024 rows is learned only from the windows
        that contain it; the added term gives every continuous input (proprio, object poses, fed-back actions) its
        magnitude along one direction from the first step, the way a regressor sees its inputs (docs/MODEL.md). The
        output head stays the tied `wte` alone. With `value_rows: false` a value id adds only that term: the input is
        then linear in the value, as an MLP's first layer is, with no per-bin row to make it jagged between bins
        the demos rarely visit."""
        x = self.wte(tokens)
        if self.value_dir is None:
            return x
        offset = tokens - VALUE_START
        centre = (offset.to(x.dtype) + 0.5) * (2.0 / NUM_VALUES) - 1.0
        is_value = (offset >= 0) & (offset < NUM_VALUES)
        if not self.config.value_rows:
            x = torch.where(is_value.unsqueeze(-1), torch.zeros_like(x), x)
        return x + torch.where(is_value, centre, torch.zeros_like(centre)).unsqueeze(-1) * self.value_dir

    def input_embedding(self, tokens: torch.Tensor, modality: torch.Tensor) -> torch.Tensor:
        """`token_embedding`, except that with `action_inputs: positions` an action token adds nothing (`positions`
        still adds its dimension). Why: fed back, the values decoded earlier in the same timestep become a proxy for
        the state, and the model's own errors in them compound over the 8 dimensions (docs/MODEL.md, "Fifth
        round"); without them every dimension is a function of the observation, as the expert's torque is."""
        x = self.token_embedding(tokens)
        if self.config.action_inputs == "values":
            return x
        return torch.where((modality == Modality.ACTION).unsqueeze(-1), torch.zeros_like(x), x)

    def _patch_bins(self, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
        """Position bin of a patch span [lo, hi): uniform sample inside it in training, its centre otherwise."""
        frac = torch.rand_like(lo) if self.training else torch.full_like(lo, 0.5)
        pos = lo + frac * (hi - lo)
        return (pos * self.config.num_pos_bins).long().clamp(0, self.config.num_pos_bins - 1)

    def positions(self, modality: torch.Tensor, local_pos: torch.Tensor) -> torch.Tensor:
        """[B, L, D] local position embeddings: an observation token's index in its block (`local_pos` table), an
        action token's dimension index (`action_pos` table; without it the model could not tell which joint it
        is decoding), nothing where local_pos is -1 (text, pad)."""
        c = self.config
        obs = self.local_pos(local_pos.clamp(0, c.max_local_positions - 1))
        act = self.action_pos(local_pos.clamp(0, c.max_action_positions - 1))
        pos = torch.where((modality == Modality.ACTION).unsqueeze(-1), act, obs)
        return torch.where((local_pos >= 0).unsqueeze(-1), pos, torch.zeros_like(pos))

    def embed(self, tokens: torch.Tensor, modality: torch.Tensor, local_pos: torch.Tensor,
              patches: torch.Tensor, patch_pos: torch.Tensor) -> torch.Tensor:
        """[B, L] per-token inputs -> [B, L, D] embeddings: token or patch, plus patch and local positions."""
        if tokens.shape[1]:
            is_action = modality == Modality.ACTION
            for name, sel in (("max_local_positions", ~is_action), ("max_action_positions", is_action)):
                limit = getattr(self.config, name)
                if bool(sel.any()) and int(local_pos[sel].max()) >= limit:
                    raise ValueError(f"local position {int(local_pos[sel].max())} exceeds the model's {name}="
                                     f"{limit}: observation block or action too long")
        x = self.input_embedding(tokens, modality)
        is_image = (modality == Modality.IMAGE).unsqueeze(-1)
        sel = is_image.squeeze(-1)
        if bool(sel.any()):  # the ResNet runs on image positions only (export: gato_ros.export.graphs.embed_block)
            x = x.clone()
            x[sel] = self.patch_embed(patches[sel]).to(x.dtype)
        pos = self.row_pos(self._patch_bins(patch_pos[..., 0], patch_pos[..., 1])) \
            + self.col_pos(self._patch_bins(patch_pos[..., 2], patch_pos[..., 3]))
        x = x + torch.where(is_image, pos, torch.zeros_like(pos))
        return self.drop(x + self.positions(modality, local_pos))

    def empty_cache(self, batch: int = 1, device: torch.device | None = None) -> torch.Tensor:
        c = self.config
        return torch.zeros(c.n_layer, batch, c.n_head, 0, c.head_dim, device=device)

    def transformer(self, x: torch.Tensor, past_k: torch.Tensor | None = None, past_v: torch.Tensor | None = None,
                    allowed: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Blocks over new tokens x [B, L, D] after cached keys/values [n_layer, B, H, T, hd] (`allowed`: see
        Attention.forward); returns h and the cache."""
        if past_k is None or past_v is None:
            past_k = past_v = self.empty_cache(x.shape[0], x.device)
        ks, vs = [], []
        for i, block in enumerate(self.blocks):
            x, k, v = block(x, past_k[i], past_v[i], allowed)
            ks.append(k)
            vs.append(v)
        return self.ln_f(x), torch.stack(ks), torch.stack(vs)

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        """Output distribution over the whole vocabulary through the shared embedding."""
        return h @ self.wte.weight.t()

    def action_logits(self, h: torch.Tensor) -> torch.Tensor:
        """Logits of the 1024 value ids only ([B, L, 1024], index = bin): an action token's restricted head.

        With `action_head: regression` the head is one linear value per position, presented as the logits of a
        Gaussian one bin wide centred on it: argmax, expected and median decoding all read that value back, so the
        ONNX graphs and the KV runtime are the same for both heads (docs/MODEL.md, "Fifth round")."""
        if self.value_head is None:
            return h @ self.wte.weight[VALUE_START:VALUE_START + NUM_VALUES].t()
        width = 2.0 / NUM_VALUES
        return -0.5 * ((bin_centres(h.device, h.dtype) - self.action_value(h)[..., None]) / width) ** 2

    def action_value(self, h: torch.Tensor) -> torch.Tensor:
        """[..., L] the regression head's action value in the bins' [-1, 1] space (action_head: regression)."""
        if self.value_head is None:
            raise ValueError("action_value needs action_head: regression")
        return self.value_head(h)[..., 0]

    def hidden(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """[B, L, D] final hidden states of collated windows, under the `attention_timesteps` band when it is set."""
        x = self.embed(batch["tokens"], batch["modality"], batch["local_pos"], batch["patches"], batch["patch_pos"])
        steps = self.config.attention_timesteps
        allowed = timestep_band(batch["timestep"], batch["modality"], steps) if steps > 0 else None
        return self.transformer(x, allowed=allowed)[0]

    def forward(self, batch: dict[str, torch.Tensor], action_sigma_bins: float = 0.0, action_value_weight: float = 0.0
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits [B, L, V] and, when the batch has a loss_mask, the same loss as `loss`."""
        h = self.hidden(batch)
        loss = self.target_loss(h, batch, action_sigma_bins, action_value_weight) if "loss_mask" in batch else None
        return self.logits(h), loss

    def loss(self, batch: dict[str, torch.Tensor], action_sigma_bins: float = 0.0, action_value_weight: float = 0.0
             ) -> torch.Tensor:
        """The training loss (see `target_loss`); logits are computed only where a target counts."""
        h = self.hidden(batch)
        return self.target_loss(h, batch, action_sigma_bins, action_value_weight)

    def target_loss(self, h: torch.Tensor, batch: dict[str, torch.Tensor], action_sigma_bins: float,
                    action_value_weight: float = 0.0) -> torch.Tensor:
        """loss_mask-weighted mean over next-token targets: text by cross entropy over the whole vocabulary,
        actions by cross entropy of the 1024-value head (`action_logits`, what the runtime decodes) against an
        HL-Gauss target of width `action_sigma_bins` bins (one-hot when 0), plus `action_value_weight` x the squared
        error of the head's expected value (what `expected` decoding outputs) against the target bin's centre: the
        regression term that a torque policy's small steady-state errors need (docs/MODEL.md). A regression head
        (`action_head: regression`) has only the squared error of its value, weighted by `action_value_weight` (1 when
        0)."""
        weights = batch["loss_mask"][:, 1:]
        keep = weights > 0
        h, targets, w = h[:, :-1][keep], batch["tokens"][:, 1:][keep], weights[keep].to(h.dtype)
        is_action = batch["modality"][:, 1:][keep] == Modality.ACTION
        total = h.new_zeros(())
        if bool(is_action.any()) and self.value_head is not None:
            bins = targets[is_action] - VALUE_START
            err = self.action_value(h[is_action]) - bin_centres(h.device, h.dtype)[bins]
            weight = action_value_weight if action_value_weight > 0 else 1.0
            total = total + (weight * err ** 2 * w[is_action]).sum()
        elif bool(is_action.any()):
            logp = F.log_softmax(self.action_logits(h[is_action]), dim=-1)
            bins = targets[is_action] - VALUE_START
            if action_sigma_bins > 0:
                soft = hl_gauss_targets(NUM_VALUES, float(action_sigma_bins)).to(h.device)[bins]
                ce = -(soft * logp).sum(-1)
            else:
                ce = -logp.gather(-1, bins[:, None])[:, 0]
            if action_value_weight > 0:
                centres = bin_centres(h.device, logp.dtype)
                ce = ce + action_value_weight * (logp.exp() @ centres - centres[bins]) ** 2
            total = total + (ce * w[is_action]).sum()
        if bool((~is_action).any()):
            ce = F.cross_entropy(self.logits(h[~is_action]), targets[~is_action], reduction="none")
            total = total + (ce * w[~is_action]).sum()
        return total / weights.sum().clamp(min=1.0)


def bin_centres(device: torch.device | None = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """[1024] the value bins' centres in [-1, 1] (gato_ros.tokenizer.continuous.bin_centres, as a tensor)."""
    return (torch.arange(NUM_VALUES, device=device, dtype=dtype) + 0.5) * (2.0 / NUM_VALUES) - 1.0


@functools.lru_cache(maxsize=4)
def hl_gauss_targets(num_bins: int, sigma_bins: float) -> torch.Tensor:
    """[num_bins, num_bins]: row b = the HL-Gauss target (Farebrother et al. 2024) for a true value at bin b's
    centre: the mass of N(centre, sigma_bins) over each bin, truncated to the range and renormalised."""
    edges = torch.arange(num_bins + 1, dtype=torch.float64)
    centres = torch.arange(num_bins, dtype=torch.float64)[:, None] + 0.5
    cdf = 0.5 * (1 + torch.erf((edges[None, :] - centres) / (sigma_bins * math.sqrt(2))))
    mass = cdf[:, 1:] - cdf[:, :-1]
    return (mass / mass.sum(-1, keepdim=True)).float()


def value_logits(logits: torch.Tensor) -> torch.Tensor:
    """Logits restricted to the 1024 continuous value ids (what an action token may be); index = bin."""
    return logits[..., VALUE_START:VALUE_START + NUM_VALUES]


def action_logits_mask(vocab_size: int = 33026, device: torch.device | None = None) -> torch.Tensor:
    """Bool [vocab_size], True on the 1024 value ids [32000, 33024): the ids an action token may take."""
    mask = torch.zeros(vocab_size, dtype=torch.bool, device=device)
    mask[VALUE_START:VALUE_START + NUM_VALUES] = True
    return mask


def restrict_to_actions(logits: torch.Tensor) -> torch.Tensor:
    """Full-vocabulary logits with every non-value id set to -inf (sampling then yields only action values)."""
    mask = action_logits_mask(logits.shape[-1], logits.device)
    return logits.masked_fill(~mask, float("-inf"))


def save_checkpoint(path: str | Path, model: Gato, step: int, gato_config: Any, optimizer_state: dict | None = None,
                    extra: dict | None = None) -> None:
    """Weights, network config, gato.json contents (a GatoConfig), step and optimizer state in one torch file."""
    if not isinstance(step, int) or not hasattr(gato_config, "to_dict"):
        raise TypeError("save_checkpoint(path, model, step: int, gato_config: GatoConfig, optimizer_state=None, "
                        f"extra=None): got step={type(step).__name__}, gato_config={type(gato_config).__name__}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": "gato_ros.checkpoint.v1",
        "model_config": dataclasses.asdict(model.config),
        "state_dict": model.state_dict(),
        "gato_config": gato_config.to_dict(),
        "step": int(step),
        "optimizer": optimizer_state,
        "extra": extra or {},
    }
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)  # never leave a half-written checkpoint behind


def load_checkpoint(path: str | Path, map_location: str = "cpu") -> tuple[Gato, Any, dict]:
    """(model in eval mode, GatoConfig, {'step', 'optimizer', ...extra}) from `save_checkpoint`'s file."""
    from gato_ros.config import GatoConfig

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as exc:
        raise ValueError(f"{path} is not a readable checkpoint: {type(exc).__name__}: {exc}") from exc
    if not isinstance(payload, dict) or payload.get("format") != "gato_ros.checkpoint.v1":
        raise ValueError(f"{path} is not a gato_ros checkpoint")
    model = Gato(GatoModelConfig.from_dict(payload["model_config"]))
    model.load_state_dict(payload["state_dict"])
    config = GatoConfig.from_dict(payload["gato_config"])
    config = dataclasses.replace(config, model={**config.model, **payload["model_config"]})
    extra = {"step": payload["step"], "optimizer": payload.get("optimizer"), **payload.get("extra", {})}
    return model.eval(), config, extra


def describe(name: str) -> str:
    c = CONFIGS[name]
    return (f"{name}: {c.n_layer} blocks, {c.n_head} heads x {c.head_dim}, width {c.n_embd}, ff {c.d_ff}, "
            f"{param_count(c) / 1e6:.1f}M parameters")


if __name__ == "__main__":
    for config_name in CONFIGS:
        print(describe(config_name))
    assert math.isfinite(param_count(CONFIGS["tiny"]))
