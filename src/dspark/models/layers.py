"""The building blocks shared by every target and every drafter: norm, rotary, MLP, attention.

There is ONE attention (`attend`): scaled dot-product attention with grouped-query heads and an
explicit boolean mask. Targets (causal, optionally sliding-window) and drafters (block-bidirectional
with injected context) differ only in the keys/values and the mask they hand it.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig, RopeConfig
from .packed import PackedWeight
from .runtime import packed_linear


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6, offset: bool = False):
        super().__init__()
        self.eps = eps
        self.offset = offset  # Gemma stores w and scales by (1 + w); its weights start at zero
        self.weight = nn.Parameter(torch.zeros(dim) if offset else torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Computed in fp32 whatever the activation dtype (as transformers does); one fused kernel.
        w = self.weight.float()
        return F.rms_norm(x.float(), (x.shape[-1],), 1.0 + w if self.offset else w, self.eps).to(x.dtype)


class Rotary(nn.Module):
    """Rotary position embedding (the "rotate half" layout transformers uses)."""

    def __init__(self, head_dim: int, rope: RopeConfig):
        super().__init__()
        inv_freq = 1.0 / (rope.theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
        self.register_buffer("inv_freq", inv_freq * rope.inv_freq_scale(), persistent=False)

    def forward(self, positions: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """positions [N] -> cos, sin [N, head_dim] (computed in fp32, as transformers does)."""
        freqs = positions.float()[:, None] * self.inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos().to(dtype), emb.sin().to(dtype)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x [N, heads, D]; cos/sin [N, D]."""
    half = x.shape[-1] // 2
    rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * cos[:, None, :] + rotated * sin[:, None, :]


class Linear(nn.Linear):
    """nn.Linear that multiplies through a packed copy of its weight when the loader gave it one
    (targets from quantized checkpoints, see packed.py); otherwise exactly nn.Linear."""
    packed: PackedWeight | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return packed_linear(x, self.weight, self.bias, self.packed)


class MLP(nn.Module):
    def __init__(self, hidden: int, intermediate: int, act: str):
        super().__init__()
        self.gate_proj = Linear(hidden, intermediate, bias=False)
        self.up_proj = Linear(hidden, intermediate, bias=False)
        self.down_proj = Linear(intermediate, hidden, bias=False)
        self.act = act
        self.packed_gate_up: PackedWeight | None = None   # packed concatenated gate/up weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.packed_gate_up is not None and not torch.is_grad_enabled():
            # gate and up as one product over the concatenated weight, as for q/k/v
            w, _ = fused_weight(self, (self.gate_proj, self.up_proj))
            g, u = packed_linear(x, w, None, self.packed_gate_up).split(self.gate_proj.out_features, dim=-1)
        else:
            g, u = self.gate_proj(x), self.up_proj(x)
        g = F.silu(g) if self.act == "silu" else F.gelu(g, approximate="tanh")
        return self.down_proj(g * u)


def fused_weight(owner: nn.Module, linears: tuple[nn.Linear, ...]):
    """The concatenated weight (and bias) of several linears on the same input, cached on `owner`
    and rebuilt whenever one of the weights changes (training, loading, a dtype move)."""
    key = tuple((m.weight.data_ptr(), m.weight._version, m.weight.dtype) for m in linears)
    if getattr(owner, "_fused_key", None) != key:
        w = torch.cat([m.weight for m in linears])
        b = torch.cat([m.bias for m in linears]) if linears[0].bias is not None else None
        owner._fused, owner._fused_key = (w, b), key
    return owner._fused


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None,
           scale: float, softcap: float | None = None) -> torch.Tensor:
    """The one attention. q [B, Hq, n, D]; k, v [B, Hkv, m, D]; mask bool [B|1, 1|Hq, n, m]
    (True = may attend) or None for "everything". Returns [B, Hq, n, D]."""
    b, hq, n, d = q.shape
    rep = hq // k.shape[1]
    if softcap is None:
        if (rep > 1 and q.device.type == "cpu" and q.requires_grad and torch.is_grad_enabled()
                and (mask is None or mask.shape[1] == 1)):
            # Training on a CPU: the query heads that share a key head become more rows of one head
            # (the same sums). torch's CPU flash-attention backward is ~1.5x faster that way than
            # with enable_gqa (drafter training shapes, bf16); its forward is a little slower, so
            # inference keeps enable_gqa.
            qf = q.reshape(b, k.shape[1], rep * n, d)
            mf = None if mask is None else mask.expand(-1, 1, n, -1).repeat(1, 1, rep, 1)
            return F.scaled_dot_product_attention(qf, k, v, attn_mask=mf, scale=scale).view(b, hq, n, d)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale, enable_gqa=rep > 1)
    # Logit soft-capping (Gemma 2 style) has no fused kernel: spell it out.
    k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
    scores = torch.matmul(q, k.transpose(-1, -2)) * scale
    scores = softcap * torch.tanh(scores / softcap)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return torch.matmul(scores.softmax(-1), v)


class Attention(nn.Module):
    """Projections, q/k norm and rotary; the caller decides which keys a query sees."""

    def __init__(self, cfg: ModelConfig, in_dim: int | None = None):
        super().__init__()
        in_dim = in_dim or cfg.hidden_size
        self.num_heads, self.num_kv_heads, self.head_dim = cfg.num_heads, cfg.num_kv_heads, cfg.head_dim
        self.scale, self.softcap = cfg.scale, cfg.attn_logit_softcap
        self.q_proj = Linear(in_dim, cfg.num_heads * cfg.head_dim, bias=cfg.attention_bias)
        self.k_proj = Linear(in_dim, cfg.num_kv_heads * cfg.head_dim, bias=cfg.attention_bias)
        self.v_proj = Linear(in_dim, cfg.num_kv_heads * cfg.head_dim, bias=cfg.attention_bias)
        self.o_proj = Linear(cfg.num_heads * cfg.head_dim, cfg.hidden_size, bias=False)
        self.packed_qkv: PackedWeight | None = None   # packed concatenated q/k/v weight
        if cfg.qk_norm:
            self.q_norm = RMSNorm(cfg.head_dim, cfg.rms_norm_eps, cfg.norm_offset)
            self.k_norm = RMSNorm(cfg.head_dim, cfg.rms_norm_eps, cfg.norm_offset)
        else:
            self.q_norm = self.k_norm = None

    def project_qkv(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor):
        """Queries, keys and values of the same rows. Without autograd the three projections run as
        one product over a concatenated weight (rebuilt whenever a weight changes): one weight read
        and one kernel instead of three, which is what batch-1 decoding is bound by."""
        if torch.is_grad_enabled():
            return (self.project_q(x, cos, sin),) + self.project_kv(x, cos, sin)
        w, b = fused_weight(self, (self.q_proj, self.k_proj, self.v_proj))
        hq, hk = self.num_heads, self.num_kv_heads
        qkv = packed_linear(x, w, b, self.packed_qkv).view(x.shape[0], hq + 2 * hk, self.head_dim)
        v = qkv[:, hq + hk:]
        if self.q_norm is None:   # rotate queries and keys together: half the small ops
            qk = apply_rotary(qkv[:, :hq + hk], cos, sin)
            return qk[:, :hq], qk[:, hq:], v
        q, k = self.q_norm(qkv[:, :hq]), self.k_norm(qkv[:, hq:hq + hk])
        return apply_rotary(q, cos, sin), apply_rotary(k, cos, sin), v

    def project_q(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        """x [N, in] -> rotated queries [N, Hq, D]."""
        q = self.q_proj(x).view(x.shape[0], self.num_heads, self.head_dim)
        if self.q_norm is not None:
            q = self.q_norm(q)
        return apply_rotary(q, cos, sin)

    def project_kv(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor):
        """x [N, in] -> rotated keys and values [N, Hkv, D]."""
        k = self.k_proj(x).view(x.shape[0], self.num_kv_heads, self.head_dim)
        v = self.v_proj(x).view(x.shape[0], self.num_kv_heads, self.head_dim)
        if self.k_norm is not None:
            k = self.k_norm(k)
        return apply_rotary(k, cos, sin), v

    def attend_and_project(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                           mask: torch.Tensor | None) -> torch.Tensor:
        """q [B, Hq, n, D]; k, v [B, Hkv, m, D] -> [B, n, hidden] after o_proj."""
        out = attend(q, k, v, mask, self.scale, self.softcap)
        b, _, n, _ = out.shape
        return self.o_proj(out.transpose(1, 2).reshape(b, n, self.num_heads * self.head_dim))
