"""The two inference graphs the runtime runs, as torch modules around a Gato model (exported to ONNX).

prefill: a block of tokens (one timestep's observation, optionally preceded by the previous timestep's last
action token) + past keys/values -> restricted action logits at the last position + present keys/values.
decode: one action token + past keys/values -> restricted action logits + present keys/values.
Past/present are [n_layer, 1, n_head, T, head_dim]; the logits cover only the 1024 value ids.
"""

from __future__ import annotations

import torch
from torch import nn

from gato_ros.runtime.model_files import DECODE_INPUTS, OUTPUTS, PREFILL_INPUTS

ACTION_MODALITY = 5  # gato_ros.tokenizer.sequence.Modality.ACTION (ARCHITECTURE.md)
ACTION_VOCAB_START = 32000  # continuous values: ids 32000 + bin
ACTION_VOCAB_SIZE = 1024
PATCH = 16



def action_modality() -> int:
    """Modality.ACTION from the tokenizer when it is importable, else the documented value."""
    try:
        from gato_ros.tokenizer.sequence import Modality

        return int(Modality.ACTION)
    except ImportError:
        return ACTION_MODALITY


def restricted_logits(model: nn.Module, h_last: torch.Tensor, start: int, size: int) -> torch.Tensor:
    """Logits of the value ids [start, start+size) for hidden states `h_last` [B, 1, D] -> [B, size].

    Only the 1024 output rows are read: the model's `action_logits` when it has one, else the rows of its
    tied embedding `wte` (Gato.logits is h @ wte.weight.T); other models slice the full-vocabulary `logits`.
    """
    fn = getattr(model, "action_logits", None)
    if callable(fn):
        return fn(h_last)[:, -1, :]
    wte = getattr(model, "wte", None)
    if isinstance(wte, nn.Embedding):
        return h_last[:, -1, :] @ wte.weight[start:start + size].t()
    return model.logits(h_last)[:, -1, start:start + size]


class PrefillGraph(nn.Module):
    """A token block + cache -> next-action logits + grown cache."""

    def __init__(self, model: nn.Module, start: int = ACTION_VOCAB_START, size: int = ACTION_VOCAB_SIZE) -> None:
        super().__init__()
        self.model, self.start, self.size = model, start, size

    def forward(self, tokens, modality, local_pos, patches, patch_pos, past_k, past_v):
        x = self.model.embed(tokens, modality, local_pos, patches, patch_pos)
        h, present_k, present_v = self.model.transformer(x, past_k, past_v)
        return restricted_logits(self.model, h[:, -1:, :], self.start, self.size), present_k, present_v


def _embed_action(model: nn.Module, token: torch.Tensor, action: int, dtype: torch.dtype) -> torch.Tensor:
    """Gato.embed of action tokens (modality ACTION, no local position, no patch)."""
    b, n = token.shape
    patches = torch.zeros(b, n, 3, PATCH, PATCH, dtype=dtype, device=token.device)
    patch_pos = torch.zeros(b, n, 4, dtype=dtype, device=token.device)
    return model.embed(token, torch.full_like(token, action), torch.full_like(token, -1), patches, patch_pos)


def action_embedding_is_token_row(model: nn.Module, action: int) -> bool:
    """True when embedding an action token is just its `wte` row (checked numerically), so decode can skip
    the patch ResNet and position tables that embed() runs on every position."""
    wte = getattr(model, "wte", None)
    if not isinstance(wte, nn.Embedding) or model.training:
        return False
    token = torch.arange(ACTION_VOCAB_START, ACTION_VOCAB_START + 8)[None]
    with torch.no_grad():
        return bool(torch.allclose(_embed_action(model, token, action, wte.weight.dtype), wte(token), atol=1e-6))


class DecodeGraph(nn.Module):
    """One action token + cache -> next-action logits + grown cache."""

    def __init__(self, model: nn.Module, start: int = ACTION_VOCAB_START, size: int = ACTION_VOCAB_SIZE) -> None:
        super().__init__()
        self.model, self.start, self.size = model, start, size
        self.action = action_modality()
        self.token_row = action_embedding_is_token_row(model, self.action)

    def forward(self, token, past_k, past_v):
        if self.token_row:
            x = self.model.wte(token)
        else:
            x = _embed_action(self.model, token, self.action, past_k.dtype)
        h, present_k, present_v = self.model.transformer(x, past_k, past_v)
        return restricted_logits(self.model, h[:, -1:, :], self.start, self.size), present_k, present_v


def cache_shape(model: nn.Module) -> tuple[int, int, int]:
    """(n_layer, n_head, head_dim) of the model's KV cache, read off one tiny forward pass."""
    tokens = torch.zeros(1, 1, dtype=torch.long)
    with torch.no_grad():
        x = model.embed(tokens, torch.full_like(tokens, action_modality()), torch.full_like(tokens, -1),
                        torch.zeros(1, 1, 3, PATCH, PATCH), torch.zeros(1, 1, 4))
        _, k, _ = model.transformer(x)
    n_layer, _, n_head, _, head_dim = k.shape
    return int(n_layer), int(n_head), int(head_dim)


def empty_cache(n_layer: int, n_head: int, head_dim: int, length: int = 0, dtype=torch.float32) -> torch.Tensor:
    """A [n_layer, 1, n_head, length, head_dim] cache tensor of zeros."""
    return torch.zeros(n_layer, 1, n_head, length, head_dim, dtype=dtype)
