"""The decoder stack for Llama, Qwen3 and Gemma3. Parameter names follow transformers, so a
Hugging Face state dict loads as it is."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import nn

from ..batch import FlatBatch
from .config import ModelConfig
from .kv_cache import KVCache
from .layers import MLP, Attention, Linear, RMSNorm, Rotary


class DecoderLayer(nn.Module):
    """Pre-norm residual block. How attention finds its keys is the caller's `mix` function, so
    the same layer serves targets (cached causal) and drafters (injected context)."""

    def __init__(self, cfg: ModelConfig, sliding: bool = False, attn_in_dim: int | None = None):
        super().__init__()
        self.sliding = sliding
        self.sandwich = cfg.sandwich_norm
        norm = lambda: RMSNorm(cfg.hidden_size, cfg.rms_norm_eps, cfg.norm_offset)  # noqa: E731
        self.self_attn = Attention(cfg, attn_in_dim)
        self.mlp = MLP(cfg.hidden_size, cfg.intermediate_size, cfg.hidden_act)
        self.input_layernorm = norm()
        # transformers' names: in Llama/Qwen3 "post_attention_layernorm" is the norm BEFORE the MLP;
        # Gemma3 has four norms and uses it after attention.
        self.post_attention_layernorm = norm()
        if self.sandwich:
            self.pre_feedforward_layernorm = norm()
            self.post_feedforward_layernorm = norm()

    def forward(self, x: torch.Tensor, mix: Callable[[torch.Tensor], torch.Tensor],
                attn_input: torch.Tensor | None = None) -> torch.Tensor:
        """x [N, hidden]; mix(normed) -> attention output [N, hidden]. attn_input, when given,
        replaces the normed x as attention input (Eagle3 feeds a wider concatenation)."""
        h = mix(self.input_layernorm(x) if attn_input is None else attn_input)
        if self.sandwich:
            h = self.post_attention_layernorm(h)
            x = x + h
            return x + self.post_feedforward_layernorm(self.mlp(self.pre_feedforward_layernorm(x)))
        x = x + h
        return x + self.mlp(self.post_attention_layernorm(x))


def cached_attention(attn: Attention, h: torch.Tensor, *, cos, sin, cache: KVCache, layer_idx: int,
                     batch: FlatBatch, window: int | None = None) -> torch.Tensor:
    """Causal attention of a flat batch against the KV cache (targets, Eagle3 and MTP drafters):
    writes the new keys/values, then lets each new token see its sequence's cache up to itself."""
    q, k, v = attn.project_qkv(h, cos, sin)
    cache.write(layer_idx, batch, k, v)
    keys, values = cache.read(layer_idx, batch)
    q = batch.pad(q).transpose(1, 2)                    # [B, Hq, max_new, D]
    return batch.unpad(attn.attend_and_project(q, keys, values, batch.mask(window)))


@dataclass
class ForwardOutput:
    """What a forward gives. The fast runtime's forward leaves what decoding does not read to be
    computed when read: every torch op right after the weights have streamed through the caches
    costs 5-15x what it costs in a loop (the final norm: ~0.13 ms of a ~5 ms step; RESULTS.md,
    sessions 40-41)."""
    logits: torch.Tensor | None        # [rows, vocab] at batch.logit_rows (all rows if None)
    # outputs of the requested layers, each [N, hidden] (`taps`), as a list or side by side
    # [N, len(taps) * hidden] (`tap_rows`: what a drafter observes); either computes the other
    _taps: list[torch.Tensor] | torch.Tensor
    _hidden: torch.Tensor | Callable[[], torch.Tensor]    # the final normed hidden state [N, hidden]
    num_taps: int | None = None        # with `_taps` side by side: how many layers it holds

    @property
    def taps(self) -> list[torch.Tensor]:
        if isinstance(self._taps, torch.Tensor):
            n = self._taps.shape[0]
            return list(self._taps.view(n, self.num_taps, -1).unbind(1)) if self.num_taps else []
        return self._taps

    @property
    def tap_rows(self) -> torch.Tensor | None:
        if isinstance(self._taps, torch.Tensor):
            return self._taps if self.num_taps else None
        return torch.cat(self._taps, dim=-1) if self._taps else None

    @property
    def hidden(self) -> torch.Tensor:
        if callable(self._hidden):
            self._hidden = self._hidden()
        return self._hidden


class DecoderStack(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(cfg, t == "sliding") for t in cfg.layer_types)
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps, cfg.norm_offset)
        self.rotary = Rotary(cfg.head_dim, cfg.rope)
        self.rotary_local = Rotary(cfg.head_dim, cfg.rope_local) if cfg.rope_local else None

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.embed_tokens(tokens)
        if self.cfg.embed_scale != 1.0:
            # Gemma rounds the scale to the weight dtype before multiplying.
            x = x * torch.tensor(self.cfg.embed_scale, dtype=x.dtype)
        return x


class TargetModel(nn.Module):
    """A causal LM that runs flat batches against a KVCache."""
    runtime = None   # runtime.FastForward once packed for the fast precision (loader.pack_model)

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.model = DecoderStack(cfg)
        self.lm_head = Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        if cfg.tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight

    @property
    def device(self) -> torch.device:
        return self.lm_head.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.lm_head.weight.dtype

    def new_cache(self, num_slots: int, max_len: int) -> KVCache:
        # The fast runtime keeps keys and values in fp16 (qkernels.c: attention streams the cache),
        # the keys in transposed blocks (kv_cache.KEY_BLOCK)
        fast = self.runtime is not None
        dtype = torch.float16 if fast else self.dtype
        return KVCache.for_model(self.cfg, num_slots, max_len, dtype, self.device, blocked_keys=fast)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """LM head (+ Gemma-2-style soft cap when configured), always returned in fp32."""
        return self.soft_cap(self.lm_head(hidden).float())

    def soft_cap(self, logits: torch.Tensor) -> torch.Tensor:
        c = self.cfg.final_logit_softcap
        return c * torch.tanh(logits / c) if c else logits

    @torch.no_grad()
    def forward(self, batch: FlatBatch, cache: KVCache, taps: Sequence[int] = (),
                need_logits: bool = True) -> ForwardOutput:
        if self.runtime is not None and batch.tokens.device.type == "cpu":
            return ForwardOutput(*self.runtime(self, batch, cache, taps, need_logits))
        cache.check_room(batch)
        cfg, m = self.cfg, self.model
        x = m.embed(batch.tokens)
        cos_sin = {False: m.rotary(batch.positions, x.dtype)}
        if m.rotary_local is not None:
            cos_sin[True] = m.rotary_local(batch.positions, x.dtype)
        tapped: dict[int, torch.Tensor] = {}
        want = set(taps)
        for i, layer in enumerate(m.layers):
            cos, sin = cos_sin[layer.sliding and m.rotary_local is not None]
            window = cfg.sliding_window if layer.sliding else None

            x = layer(x, functools.partial(cached_attention, layer.self_attn, cos=cos, sin=sin,
                                           cache=cache, layer_idx=i, batch=batch, window=window))
            if i in want:
                tapped[i] = x
        cache.commit(batch)
        hidden = m.norm(x)
        logits = None
        if need_logits:
            rows = hidden if batch.logit_rows is None else hidden.index_select(0, batch.logit_rows)
            logits = self.logits(rows)
        return ForwardOutput(logits, [tapped[i] for i in taps], hidden)
