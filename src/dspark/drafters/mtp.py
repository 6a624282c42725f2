"""MTP: a DeepSeek-V3-style multi-token-prediction module as a drafter (the MTP-1 baseline).

Alignment (same convention as Eagle3, see eagle3.py): position t pairs the target's last-layer
output h[t] (raw output of layer num_layers - 1, i.e. tap_layers = (num_layers - 1,)) with the
token x[t+1] and predicts x[t+2]:

    x   = eh_proj([enorm(embed(x[t+1])) ; hnorm(h[t])])        Linear 2H -> H
    out = mtp_block(x)                                          one decoder layer of the target's family
    p   = softmax(target_lm_head(shared_head.norm(out)))

The concatenation order is DeepSeek-V3's implementation order (embedding first, as vLLM / SGLang
load the released weights), so DeepSeek-style MTP weights map by renaming: `enorm`, `hnorm`,
`eh_proj`, `shared_head.norm` keep their names and `mtp_block.*` are the block's layer weights
(the HF checkpoint stores them flat under `model.layers.<N>.`).

gamma = 1 is MTP-1 (default). gamma > 1 chains the module on its own output `out` as the next
hidden (like Eagle3); inference, rollback and `forward_train` are the shared ChainDrafter code.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import DSparkError
from ..models.config import ModelConfig
from ..models.decoder import DecoderLayer
from ..models.layers import Linear, RMSNorm, Rotary
from .checkpoint import register
from .eagle3 import ChainDrafter, _check_common


@register
class MTPDrafter(ChainDrafter):
    algorithm = "mtp"

    @dataclass
    class Config:
        block_size: int = 1                  # gamma; 1 = MTP-1, > 1 chains the module on its own hidden
        intermediate_size: int = 0           # block MLP width; 0 = the target's

    def __init__(self, config: "MTPDrafter.Config", target_model):
        super().__init__()
        tcfg: ModelConfig = target_model.cfg
        _check_common(config, tcfg, self.algorithm)
        self._setup_common(config, target_model, (tcfg.num_layers - 1,), config.block_size)
        h = tcfg.hidden_size
        # The target's own layer type (norms, q/k norm, activation), with full causal attention.
        self.layer_cfg = dataclasses.replace(
            tcfg, num_layers=1, layer_types=["full"],
            intermediate_size=config.intermediate_size or tcfg.intermediate_size)
        norm = lambda: RMSNorm(h, tcfg.rms_norm_eps, tcfg.norm_offset)  # noqa: E731
        self.enorm = norm()
        self.hnorm = norm()
        self.eh_proj = Linear(2 * h, h, bias=False)
        self.mtp_block = DecoderLayer(self.layer_cfg)
        self.shared_head = nn.ModuleDict({"norm": norm()})
        self.rotary = Rotary(self.layer_cfg.head_dim, self.layer_cfg.rope)

    @classmethod
    def build(cls, config: "MTPDrafter.Config", target_model) -> "MTPDrafter":
        return cls(config, target_model).to(device=target_model.device, dtype=target_model.dtype)

    @torch.no_grad()
    def init_from_target(self) -> "MTPDrafter":
        """Start training from the target's last layer and final norm (a common warm start)."""
        src = self.target_model.model
        if self.layer_cfg.intermediate_size != self.target_cfg.intermediate_size:
            raise DSparkError("mtp: init_from_target needs the target's intermediate_size")
        self.mtp_block.load_state_dict(src.layers[-1].state_dict())
        self.shared_head["norm"].load_state_dict(src.norm.state_dict())
        return self

    @property
    def layer(self) -> DecoderLayer:
        return self.mtp_block

    def _initial_hidden(self, taps: torch.Tensor) -> torch.Tensor:
        return taps

    def _step(self, emb, hidden, mix):
        x = self.eh_proj(torch.cat((self.enorm(emb), self.hnorm(hidden)), -1))
        return self.mtp_block(x, mix)

    def _final_norm(self, out):
        return self.shared_head["norm"](out)
