"""The two inference graphs the runtime runs, as torch modules around a Gato model (exported to ONNX).

The KV cache lives outside the graphs in fixed-capacity buffers that the runtime owns and never copies:
per layer, keys stored transposed [1, H, head_dim, capacity] (so q @ K is a plain MatMul) and values
[1, H, capacity, head_dim]. A graph reads the buffers in place (slots >= past_len are masked out), attends
over them and over its own new tokens, and returns only the new tokens' keys/values [n_layer, 1, H, S,
head_dim]; the runtime writes those into the buffers. No concatenation or stacking of the cache happens,
so a decode pass streams the weights and the cache once: what the memory-bandwidth bound assumes.

prefill: a block of tokens (one timestep's observation, optionally preceded by the previous timestep's last
action token; a prompt demo; or, after an eviction, the kept timesteps) -> restricted action logits at the last
position + new keys/values. `modality` tells action tokens (action-dimension positions) from observation tokens.
The ResNet patch embedding runs only on the block's image patches (`patches`, `patch_pos` hold those P
patches; `source` picks, per position, a token embedding (index < S) or a patch embedding (S + j)).
decode: one action token and its dimension index (`local_pos`) -> restricted action logits + its keys/values.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from gato_ros.config import TokenizerConfig
from gato_ros.model.gato import NUM_VALUES, VALUE_START, Attention, Block, Gato
from gato_ros.tokenizer.sequence import Modality

ACTION_VOCAB_START = VALUE_START  # continuous values: ids continuous_offset + bin
ACTION_VOCAB_SIZE = NUM_VALUES
PATCH = TokenizerConfig.patch_size  # pixels per patch side (the export traces with this size)


def embed_block(model: Gato, tokens: torch.Tensor, modality: torch.Tensor, local_pos: torch.Tensor,
                patches: torch.Tensor, patch_pos: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    """Gato.embed in eval mode with the patch ResNet run on the P image patches only.

    tokens, modality, local_pos [1, S]; patches [1, P, 3, p, p]; patch_pos [1, P, 4]; source [S] -> [1, S, D].
    """
    m = model
    _, p = patch_pos.shape[:2]
    img = m.patch_embed(patches.reshape(p, *patches.shape[2:]))[None]
    img = img + m.row_pos(m._patch_bins(patch_pos[..., 0], patch_pos[..., 1])) \
        + m.col_pos(m._patch_bins(patch_pos[..., 2], patch_pos[..., 3]))
    x = torch.cat([m.input_embedding(tokens, modality), img], dim=1).index_select(1, source)
    return x + m.positions(modality, local_pos)


def attention_biases(n_new: int, capacity: torch.Tensor | int, past_len: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Additive masks: [capacity] over the buffers (0 below past_len, -inf above) and the causal [S, S]."""
    neg = torch.tensor(float("-inf"))
    past = torch.where(torch.arange(capacity) < past_len, torch.tensor(0.0), neg)
    idx = torch.arange(n_new)
    new = torch.where(idx[None, :] <= idx[:, None], torch.tensor(0.0), neg)
    return past, new


def cached_attention(attn: Attention, x: torch.Tensor, k_buf: torch.Tensor, v_buf: torch.Tensor,
                     past_bias: torch.Tensor, new_bias: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Attention.forward over buffer keys k_buf [1, H, hd, C] / values v_buf [1, H, C, hd] plus the new tokens."""
    b, n, _ = x.shape
    # one [D, 3 * inner] projection instead of three: one weight stream per pass (folded to a constant at export)
    weight = torch.cat([attn.q.weight, attn.k.weight, attn.v.weight])
    bias = torch.cat([attn.q.bias, attn.k.bias, attn.v.bias])
    qkv = torch.nn.functional.linear(x, weight, bias).view(b, n, 3, attn.n_head, attn.head_dim)
    q, k, v = (qkv[:, :, i].transpose(1, 2) for i in range(3))
    q = q * (1.0 / math.sqrt(attn.head_dim))
    scores = torch.cat([q @ k_buf + past_bias, q @ k.transpose(2, 3) + new_bias], dim=-1)
    probs = torch.softmax(scores, dim=-1)
    capacity = k_buf.shape[-1]
    y = probs[..., :capacity] @ v_buf + probs[..., capacity:] @ v
    return attn.proj(y.transpose(1, 2).reshape(b, n, -1)), k, v


def cached_block(block: Block, x: torch.Tensor, k_buf: torch.Tensor, v_buf: torch.Tensor, past_bias: torch.Tensor,
                 new_bias: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Block.forward (eval) with cached_attention."""
    a, k, v = cached_attention(block.attn, block.ln1(x), k_buf, v_buf, past_bias, new_bias)
    x = x + a
    return x + block.mlp(x), k, v


class _CachedStep(nn.Module):
    """Embeddings -> blocks over the buffers -> the 1024 value logits of the last position + new keys/values."""

    def __init__(self, model: Gato) -> None:
        super().__init__()
        self.model = model
        self.eval()  # torch.onnx.export restores the wrapper's mode afterwards: it must not be train()

    def step(self, x: torch.Tensor, past_len: torch.Tensor, buffers: tuple[torch.Tensor, ...]
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n_layer = len(self.model.blocks)
        past_bias, new_bias = attention_biases(x.shape[1], buffers[0].shape[-1], past_len)
        ks, vs = [], []
        for i, block in enumerate(self.model.blocks):
            x, k, v = cached_block(block, x, buffers[i], buffers[n_layer + i], past_bias, new_bias)
            ks.append(k)
            vs.append(v)
        h = self.model.ln_f(x[:, -1:, :])
        return self.model.action_logits(h)[:, -1, :], torch.stack(ks), torch.stack(vs)


class PrefillGraph(_CachedStep):
    """A token block + cache buffers -> next-action logits + the block's keys/values."""

    def forward(self, tokens, modality, local_pos, patches, patch_pos, source, past_len, *buffers):
        x = embed_block(self.model, tokens, modality, local_pos, patches, patch_pos, source)
        return self.step(x, past_len, buffers)


class DecodeGraph(_CachedStep):
    """One action token + its dimension index + cache buffers -> next-action logits + its keys/values.

    An action token's Gato embedding is its token embedding plus `action_pos` of its dimension: see Gato.positions.
    """

    def forward(self, token, local_pos, past_len, *buffers):
        action = torch.full_like(token, int(Modality.ACTION))
        x = self.model.input_embedding(token, action) + self.model.positions(action, local_pos)
        return self.step(x, past_len, buffers)


def cache_shape(model: Gato) -> tuple[int, int, int]:
    """(n_layer, n_head, head_dim) of the model's KV cache."""
    c = model.config
    return int(c.n_layer), int(c.n_head), int(c.head_dim)


def empty_buffers(n_layer: int, n_head: int, head_dim: int, capacity: int) -> tuple[torch.Tensor, ...]:
    """Zeroed per-layer key buffers [1, H, hd, C] then value buffers [1, H, C, hd] (graph input order)."""
    return tuple(torch.zeros(1, n_head, head_dim, capacity) for _ in range(n_layer)) + \
        tuple(torch.zeros(1, n_head, capacity, head_dim) for _ in range(n_layer))


__all__ = ["PrefillGraph", "DecodeGraph", "embed_block", "cache_shape", "empty_buffers", "ACTION_VOCAB_START",
           "ACTION_VOCAB_SIZE", "PATCH"]
