"""The peer in `gato-ros bench --peer`: the usual route to the same network, for the "x ahead" figure.

A Hugging Face transformers GPT-2 (GPT2LMHeadModel, random weights) of the config's shape: blocks, heads, width,
feed-forward, the 33,026-token vocabulary and the context as n_positions, run with its own KV cache
(DynamicCache) the way a step of GatoPolicy runs: a prefill of the same block (previous action + observation) then
one decode per further action token, greedy, logits of the last position only (`logits_to_keep=1`, what
`generate` does), at a full context (the cache is cropped back after each step). Optional dependency:
`pip install transformers==5.23.0` (the `peer` extra); without it `PeerUnavailable` says so.
"""

from __future__ import annotations

from typing import Any

import numpy as np

PEER_VARIANT = "hf_gpt2_cache"


class PeerUnavailable(RuntimeError):
    """transformers is not installed."""


class PeerGPT2:
    """GPT-2 of the same shape with its KV cache; `act` is one control step (`block` tokens, then `decodes`)."""

    def __init__(self, model_cfg: Any, context: int, block: int, decodes: int, seed: int = 0) -> None:
        try:
            import torch
            from transformers import GPT2Config, GPT2LMHeadModel
        except ImportError as exc:
            raise PeerUnavailable("the peer needs transformers: pip install transformers==5.23.0 "
                                  "(or pip install .[peer])") from exc
        if block + decodes >= context:
            raise ValueError(f"a step of {block} + {decodes} tokens does not fit a {context}-token context")
        torch.manual_seed(seed)
        vocab_size = model_cfg.vocab_size
        cfg = GPT2Config(vocab_size=vocab_size, n_positions=context, n_embd=model_cfg.n_embd,
                         n_layer=model_cfg.n_layer, n_head=model_cfg.n_head, n_inner=model_cfg.d_ff,
                         bos_token_id=None, eos_token_id=None)
        if cfg.n_embd // cfg.n_head != model_cfg.head_dim:
            raise ValueError(f"GPT-2 ties head size to width / heads = {cfg.n_embd // cfg.n_head}, the config has "
                             f"{model_cfg.head_dim}: not the same shape")
        self.torch = torch
        self.model = GPT2LMHeadModel(cfg).eval()
        self.block, self.decodes, self.vocab_size = block, decodes, vocab_size
        self.params = int(sum(p.numel() for p in self.model.parameters()))
        self.attention = str(self.model.config._attn_implementation)
        self._rng = np.random.default_rng(seed)
        with torch.inference_mode():  # the window full but for one step: each step ends at exactly `context`
            out = self.model(input_ids=self._ids(context - block - decodes), use_cache=True, logits_to_keep=1)
        self.cache = out.past_key_values

    def _ids(self, n: int) -> Any:
        return self.torch.from_numpy(self._rng.integers(0, self.vocab_size, (1, n), dtype=np.int64))

    def act(self, *_: Any) -> np.ndarray:
        """One step at a full context; returns the greedy token ids. The inputs are ignored (random ids)."""
        torch = self.torch
        ids = np.empty(self.decodes + 1, np.int64)
        with torch.inference_mode():
            out = self.model(input_ids=self._ids(self.block), past_key_values=self.cache, use_cache=True,
                             logits_to_keep=1)
            for i in range(self.decodes + 1):
                token = out.logits[:, -1].argmax(-1, keepdim=True)
                ids[i] = int(token)
                if i < self.decodes:
                    out = self.model(input_ids=token, past_key_values=self.cache, use_cache=True, logits_to_keep=1)
            self.cache.crop(-(self.block + self.decodes))  # back to the same length: the next step is the same
        return ids
