"""DFlash: a parallel block drafter on the target's features; also the backbone of DSpark.

Architecture (parameter names follow the z-lab / SpecForge DFlash layout, so export is a renaming):

    ctx   = hidden_norm(fc([h_l1; ...; h_lL]))        fc: L*H -> H, once per committed token
    block = [embed(anchor), m, m, ..., m]             gamma inputs; m = `mask_embedding`, a learned
                                                      [H] vector (no vocabulary row is spent on it),
                                                      or embed(mask_token_id) when that is set
    each draft layer (a DecoderLayer, see below):    queries from the block only; keys/values =
        [k_proj(ctx of the context) ; k_proj(input_layernorm(block))] (same for v), q/k norm,
        rotary at TRUE positions (context 0..n-1, block slot k at n + k)
    h     = norm(last layer output)                   the final hidden state, after `norm`
    U     = target LM head(h)                         gamma logits, slot k predicts token n + k + 1

where n = anchor position = the number of committed tokens before the anchor. Inside a block the
attention is bidirectional; a block sees the context strictly before its anchor and never another
block. Embedding, rotary tables and LM head are the target's, used at run time and never part of
this module's state_dict (`target_model` is a plain attribute, not a submodule).

Layer form (`layer_form`). "engine" (the default): the draft layers are the Qwen3-form layer every
engine runs for a DFlash / DSpark draft whatever the target family (vLLM's DFlashQwen3DecoderLayer,
speculators' Qwen3DFlashDecoderLayer, DeepSpec's Qwen3DSparkDecoderLayer): plain pre-norm residual,
RMSNorm scaling by w, q/k norm, SiLU MLP, no biases, attention scale head_dim^-0.5, all layers full
attention; block inputs are rows of the target's embedding table WITHOUT the target's own scaling
(engines share the table, not Gemma's sqrt(H) normalizer, which lives outside it). With a Qwen3
target this is the target's own layer. "target": draft layers shaped like the target's own (a
Llama target: no q/k norm; Gemma: sandwich / (1 + w) norms, scaled embedding). Drafters trained
before the field existed are of this form (checkpoint.py loads them so); they run here but no
engine layout can hold them, so export refuses them.

Inference: `observe` projects the context rows of newly committed tokens into a per-sequence K/V
cache (one `KVCache` slot per sequence, one cache layer per draft layer); `propose` runs one
batched pass of gamma block tokens per sequence against those caches (the block's own K/V are
never stored) and samples every slot independently with the sequence's sampling parameters.

Training: `forward_train` runs the same modules over many blocks of one sequence at once (see its
docstring); tests check it against the inference path.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..batch import FlatBatch
from ..errors import DSparkError
from ..models.config import ModelConfig
from ..models.decoder import DecoderLayer
from ..models.kv_cache import KVCache
from ..models.layers import Linear, RMSNorm
from ..sampling import sample_logits
from ..sequence import Sequence
from . import vocab as dvocab
from .base import Drafter, PendingTaps, Proposal
from .checkpoint import register

# Observed taps wait for the next draft to be projected (ContextCache); past this many rows they are
# projected at once, so a sequence that is not drafting holds at most this many rows of raw taps
# (L*H floats each, ~8x its projected K/V).
MAX_PENDING_ROWS = 64
CONTEXT_PAD = 64           # training: context rows padded to a multiple of this (forward_train_many)


def default_tap_layers(num_layers: int, count: int = 5) -> list[int]:
    """`count` target layers spread from layer 1 to layer n-3 ("output of layer i" ids), as the
    reference recipe does: 30 layers -> [1, 8, 14, 20, 27]. Small targets get fewer, distinct taps
    (4 layers -> [1, 2]; 1 layer -> [0]). The last layer is left out whenever there is another:
    engines hand a draft that layer's output only after the target's final norm."""
    if num_layers < 1:
        raise DSparkError("a target needs at least one layer")
    lo = 1 if num_layers >= 2 else 0
    hi = max(num_layers - 3, min(num_layers - 2, 3))
    n = min(count, hi - lo + 1)
    if n <= 1:
        return [lo]
    return sorted({int(round(lo + (hi - lo) * i / (n - 1))) for i in range(n)})


def sample_anchors(loss_mask: torch.Tensor, num_anchors: int,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Training helper: up to `num_anchors` distinct anchor positions p (sorted) drawn uniformly
    among positions with loss_mask[p] and loss_mask[p + 1] both set (the anchor is a known token
    whose successor is supervised)."""
    m = loss_mask.bool().flatten()
    ok = torch.nonzero(m[:-1] & m[1:]).flatten()
    if ok.numel() <= num_anchors:
        return ok
    pick = torch.randperm(ok.numel(), generator=generator, device=generator.device if generator else "cpu")
    return ok[pick[:num_anchors].to(ok.device)].sort().values


@dataclass
class DFlashConfig:
    block_size: int = 7                 # gamma: block inputs = draft tokens per round
    num_layers: int = 1                 # draft decoder layers
    tap_layers: list[int] = field(default_factory=list)   # target layers read; [] = default spread
    draft_vocab_size: int = 0           # 0 = the target's full vocabulary
    intermediate_size: int = 0          # draft MLP width; 0 = the target's
    init_std: float = 0.02              # normal init of linear / embedding weights
    mask_token_id: int = -1             # -1: learned `mask_embedding`; >= 0: the target's embedding
                                        #   of this token (layouts without a mask vector, e.g. DFlash)
    layer_form: str = "engine"          # "engine": the Qwen3-form draft layer engines run (exportable);
                                        #   "target": shaped like the target's layers (legacy, native only)


LAYER_FORMS = ("engine", "target")


def engine_layer_config(tcfg: ModelConfig, num_layers: int, intermediate_size: int) -> ModelConfig:
    """The draft layers' config in the engines' form: the target's dimensions, rotary, eps and
    vocabulary with the Qwen3 layer flags (see the module docstring, "Layer form")."""
    return dataclasses.replace(
        tcfg, num_layers=num_layers, layer_types=["full"] * num_layers, intermediate_size=intermediate_size,
        qk_norm=True, sandwich_norm=False, norm_offset=False, embed_scale=1.0, hidden_act="silu",
        attn_scale=None, attn_logit_softcap=None, attention_bias=False, sliding_window=None, rope_local=None)


@dataclass
class BlockTrainOutput:
    """Per block a and slot k (k = 0..gamma-1) of `forward_train`; V' = draft vocabulary size."""
    logits: torch.Tensor                       # [A, gamma, V'] fp32 draft logits U (no sequential head);
                                               #   under autocast in its dtype (the loss casts its rows)
    hidden: torch.Tensor                       # [A, gamma, H] final hidden h (after `norm`)
    labels: torch.Tensor                       # [A, gamma] target id tokens[a + k + 1] (0 where invalid)
    valid: torch.Tensor                        # [A, gamma] bool: a + k + 1 < T (the label exists)
    target_rows: torch.Tensor                  # [A, gamma] a + k (clamped to T-1): the target's output
                                               #   at this row is its distribution for the slot's label
    prev_tokens: torch.Tensor                  # [A, gamma] x_{k-1} fed to the sequential head
    markov_logits: torch.Tensor | None = None  # DSpark: [A, gamma, V'] U + bias(prev_tokens), U's dtype
    confidence_logits: torch.Tensor | None = None  # DSpark: [A, gamma] fp32 raw confidence logits


class ContextCache:
    """Per-sequence drafter state: the injected context's K/V for every draft layer, in a
    one-slot KVCache whose capacity doubles when it fills, plus the target taps observed since the
    last draft, projected into K/V at the next one (`DFlashDrafter._flush`, see PendingTaps)."""

    def __init__(self, num_layers: int, kv_heads: int, head_dim: int, dtype, device, capacity: int = 256,
                 blocked_keys: bool = False):
        self._dims = (num_layers, kv_heads, head_dim, dtype, device, blocked_keys)
        self.cache = self._new(capacity)
        self.pending = PendingTaps()   # taps for positions projected .. length - 1

    def _new(self, capacity: int) -> KVCache:
        n, kvh, d, dtype, device, blocked_keys = self._dims
        cache = KVCache(n, 1, capacity, kvh, d, dtype, device, blocked_keys)
        cache.allocate()
        return cache

    @property
    def projected(self) -> int:
        """Positions whose K/V are in the cache."""
        return self.cache.lengths[0]

    @property
    def length(self) -> int:
        """Positions observed: projected plus pending."""
        return self.projected + len(self.pending)

    def truncate(self, length: int) -> None:
        if length < self.projected:
            self.cache.truncate(0, length)
        self.pending.keep(max(0, length - self.projected))

    def reserve(self, end: int) -> None:
        """Room for positions up to end - 1 (the capacity doubles until it holds them)."""
        if end > self.cache.max_len:
            capacity = self.cache.max_len
            while capacity < end:
                capacity *= 2
            n = self.projected
            old, self.cache = self.cache, self._new(capacity)
            self.cache.copy_prefix(old, n)
            self.cache.lengths[0] = n

    def written(self, end: int) -> None:
        """Positions up to end - 1 now hold projected keys and values (written in place by the C
        runtime into room `reserve` made)."""
        self.cache.lengths[0] = end

    def write(self, start: int, kv: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        """kv: per layer (k, v) [m, kv_heads, D] for positions start..start+m-1."""
        m = kv[0][0].shape[0]
        self.reserve(start + m)
        batch = FlatBatch(torch.zeros(m, dtype=torch.long), [0], [start], [m])
        self.cache.check_room(batch)
        for i, (k, v) in enumerate(kv):
            self.cache.write(i, batch, k, v)
        self.cache.commit(batch)

    def kv(self, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
        """[1, projected, kv_heads, D] views of the cached keys and values."""
        n = self.projected
        return self.cache.keys(layer)[:, :n], self.cache.v[layer][:, :n]


@register
class DFlashDrafter(nn.Module, Drafter):
    """DFlash drafter (algorithm "dflash"). See the module docstring for the architecture.

    state_dict: fc.weight, hidden_norm.weight, layers.N.* (target decoder-layer names), norm.weight,
    mask_embedding [H] (absent with mask_token_id >= 0), and with a reduced vocabulary d2t (int64)
    / t2d (bool)."""
    observes_positions = True         # its own KV cache over the target's taps
    algorithm = "dflash"
    Config = DFlashConfig
    # Saved configs without these keys predate them: load them as what they were trained as.
    legacy_config = {"layer_form": "target"}
    # Up to this many requests on the runtime draft one C round each (runtime.DraftForward.round)
    # rather than one batched round in steps: at c = 2 / 4 on the 2-core EPYC, every request drafting
    # every step, 1.8 / 2.7 ms a round against 2.6 / 3.8 ms, decoding 1.10x / 1.06x faster (greedy;
    # 1.07x at T = 1, c = 2; RESULTS.md, session 38). Past it, untried.
    ROUNDS_PER_REQUEST = 4

    def __init__(self, config: DFlashConfig, target_model):
        nn.Module.__init__(self)
        tcfg: ModelConfig = target_model.cfg
        taps = [int(t) for t in config.tap_layers] or default_tap_layers(tcfg.num_layers)
        self._validate(config, tcfg, taps)
        config = dataclasses.replace(config, tap_layers=taps)
        # The target is shared at run time: a plain attribute keeps its embedding / LM head out
        # of state_dict() and out of this module's .to() moves.
        object.__setattr__(self, "target_model", target_model)
        self.config = config
        self.target_cfg = tcfg
        self.tap_layers = tuple(taps)
        self.gamma = int(config.block_size)
        n = config.num_layers
        inter = config.intermediate_size or tcfg.intermediate_size
        if config.layer_form == "engine":
            self.draft_cfg = engine_layer_config(tcfg, n, inter)
        else:
            self.draft_cfg = dataclasses.replace(tcfg, num_layers=n, layer_types=["full"] * n,
                                                 intermediate_size=inter)
        h = tcfg.hidden_size
        norm = lambda: RMSNorm(h, tcfg.rms_norm_eps, self.draft_cfg.norm_offset)  # noqa: E731
        self.fc = Linear(len(taps) * h, h, bias=False)
        self.hidden_norm = norm()
        self.layers = nn.ModuleList(DecoderLayer(self.draft_cfg) for _ in range(n))
        self.norm = norm()
        if config.mask_token_id < 0:
            self.mask_embedding = nn.Parameter(torch.zeros(h))
        else:
            self.mask_embedding = None
        if config.draft_vocab_size:
            d2t, t2d = dvocab.identity_mapping(config.draft_vocab_size, tcfg.vocab_size)
            self.register_buffer("d2t", d2t)
            self.register_buffer("t2d", t2d)
        else:
            self.d2t = self.t2d = None
        self.draft_head = dvocab.DraftHead()
        self.runtime = None     # runtime.DraftForward once attach_runtime() ran (inference on the CPU runtime)
        self._build_heads()
        self._init_weights()

    @classmethod
    def build(cls, config, target_model) -> "DFlashDrafter":
        return cls(config, target_model).to(device=target_model.device, dtype=target_model.dtype)

    # --- construction -----------------------------------------------------------------------
    def _validate(self, config, tcfg: ModelConfig, taps: list[int]) -> None:
        name = self.algorithm
        if config.block_size < 1:
            raise DSparkError(f"{name}: block_size must be >= 1, got {config.block_size}")
        if config.num_layers < 1:
            raise DSparkError(f"{name}: num_layers must be >= 1, got {config.num_layers}")
        if any(not 0 <= t < tcfg.num_layers for t in taps) or len(set(taps)) != len(taps):
            raise DSparkError(f"{name}: tap_layers {taps} must be distinct layers of the "
                              f"{tcfg.num_layers}-layer target")
        if not 0 <= config.draft_vocab_size <= tcfg.vocab_size:
            raise DSparkError(f"{name}: draft_vocab_size must be in 0..{tcfg.vocab_size}, "
                              f"got {config.draft_vocab_size}")
        if config.intermediate_size < 0:
            raise DSparkError(f"{name}: intermediate_size must be >= 0")
        if config.layer_form not in LAYER_FORMS:
            raise DSparkError(f"{name}: layer_form must be one of {', '.join(LAYER_FORMS)}, "
                              f"got {config.layer_form!r}")
        if config.mask_token_id >= tcfg.vocab_size:
            raise DSparkError(f"{name}: mask_token_id {config.mask_token_id} outside the target's "
                              f"vocabulary of {tcfg.vocab_size}")

    def _build_heads(self) -> None:
        """Hook for subclasses (DSpark adds its sequential and confidence heads here)."""

    def _init_weights(self) -> None:
        std = self.config.init_std
        with torch.no_grad():
            for mod in self.modules():
                if isinstance(mod, nn.Linear):
                    mod.weight.normal_(0.0, std)
                    if mod.bias is not None:
                        mod.bias.zero_()
                elif isinstance(mod, nn.Embedding):
                    mod.weight.normal_(0.0, std)
            if self.mask_embedding is not None:
                self.mask_embedding.normal_(0.0, std * self.draft_cfg.embed_scale)

    # --- vocabulary -------------------------------------------------------------------------
    @property
    def vocab_out(self) -> int:
        """Width of the draft logits: the draft vocabulary, or the target's."""
        return self.config.draft_vocab_size or self.target_cfg.vocab_size

    def set_draft_vocab(self, d2t: torch.Tensor, t2d: torch.Tensor | None = None) -> None:
        """Install a reduced-vocabulary mapping (see vocab.py), e.g. from
        vocab.build_vocab_mapping(counts, config.draft_vocab_size)."""
        if self.d2t is None:
            raise DSparkError(f"{self.algorithm}: this drafter uses the full vocabulary (draft_vocab_size 0)")
        d2t = torch.as_tensor(d2t, dtype=torch.long)
        if t2d is None:
            _, t2d = dvocab.mapping_from_ids(dvocab.target_ids(d2t), self.target_cfg.vocab_size)
        dvocab.check_mapping(d2t, t2d, self.target_cfg.vocab_size)
        if d2t.numel() != self.d2t.numel():
            raise DSparkError(f"{self.algorithm}: mapping has {d2t.numel()} ids, draft_vocab_size is "
                              f"{self.d2t.numel()}")
        with torch.no_grad():
            self.d2t.copy_(d2t)
            self.t2d.copy_(t2d)

    def to_target_ids(self, idx: torch.Tensor) -> torch.Tensor:
        """Draft-vocabulary indices -> target token ids (identity for the full vocabulary)."""
        return idx if self.d2t is None else dvocab.draft_to_target(idx, self.d2t)

    def full_probs(self, probs: torch.Tensor) -> torch.Tensor:
        """[..., V'] draft-vocabulary distributions -> [..., V] (zeros outside the draft vocab)."""
        return probs if self.d2t is None else dvocab.expand_probs(probs, self.d2t, self.target_cfg.vocab_size)

    def head_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """The target's LM head (restricted to the draft vocabulary when there is one): [..., H]
        -> fp32 [..., V']. Also what a trainer applies to the target's final hidden states to get
        target logits over the same vocabulary."""
        target = self.target_model
        hidden = hidden.to(target.dtype)
        if self.d2t is None:
            return target.logits(hidden)
        out = self.draft_head(target, self.d2t, hidden)
        cap = self.target_cfg.final_logit_softcap
        return cap * torch.tanh(out / cap) if cap else out

    # --- the shared backbone ----------------------------------------------------------------
    @property
    def _dtype(self) -> torch.dtype:
        return self.fc.weight.dtype

    @property
    def _device(self) -> torch.device:
        return self.fc.weight.device

    def _rope(self, positions: torch.Tensor, dtype: torch.dtype):
        return self.target_model.model.rotary(positions, dtype)

    def _check_taps(self, taps: torch.Tensor) -> None:
        if taps.shape[-1] != self.fc.in_features:
            raise DSparkError(f"{self.algorithm}: taps have width {taps.shape[-1]}, expected "
                              f"{self.fc.in_features} ({len(self.tap_layers)} layers x {self.target_cfg.hidden_size})")

    def context_features(self, taps: torch.Tensor) -> torch.Tensor:
        """[m, L*H] concatenated target taps -> [m, H] context rows hidden_norm(fc(taps))."""
        self._check_taps(taps)
        return self.hidden_norm(self.fc(taps.to(device=self._device, dtype=self._dtype)))

    def _context_kv(self, ctx: torch.Tensor, positions: torch.Tensor):
        """Per draft layer the rotated keys and values [m, kv_heads, D] of context rows."""
        cos, sin = self._rope(positions, ctx.dtype)
        return [layer.self_attn.project_kv(ctx, cos, sin) for layer in self.layers]

    def _embed(self, ids: torch.Tensor) -> torch.Tensor:
        """Token embeddings of block inputs: the target's table rows, scaled as the target scales
        them only in the legacy "target" form (engines embed with the bare table)."""
        m = self.target_model.model
        ids = ids.to(self.target_model.device)
        return m.embed(ids) if self.config.layer_form == "target" else m.embed_tokens(ids)

    def _block_inputs(self, anchors: torch.Tensor, width: int | None = None) -> torch.Tensor:
        """anchor token ids [N] -> block inputs [N, g, H]: [embed(anchor), mask, ..., mask], g = width
        slots (None: the whole block, gamma)."""
        if self.mask_embedding is None:
            m = torch.full_like(anchors, self.config.mask_token_id)
            emb = self._embed(torch.cat([anchors, m[:1]]))
            emb, mask_vec = emb[:-1], emb[-1]
        else:
            emb = self._embed(anchors)
            mask_vec = self.mask_embedding
        emb = emb.to(device=self._device, dtype=self._dtype)
        n, h = emb.shape
        g = self.gamma if width is None else width
        mask = mask_vec.to(device=self._device, dtype=self._dtype).expand(n, g - 1, h)
        return torch.cat([emb[:, None], mask], dim=1)

    def _block_forward(self, x: torch.Tensor, positions: torch.Tensor, ctx_kv, mask) -> torch.Tensor:
        """The draft layers over block tokens with injected context.

        x [B, n, H] block inputs, positions [B, n] their true positions, ctx_kv per layer (k, v)
        each [B, C, kv_heads, D] (rotated context keys/values), mask bool [B, 1, n, C + n] over
        [context keys ; block keys] or None (everything visible). Returns h [B, n, H] after `norm`."""
        b, n, h = x.shape
        cos, sin = self._rope(positions.reshape(-1), x.dtype)
        x = x.reshape(b * n, h)
        for layer, (kc, vc) in zip(self.layers, ctx_kv):
            attn = layer.self_attn

            def mix(normed, attn=attn, kc=kc, vc=vc):
                q, kb, vb = attn.project_qkv(normed, cos, sin)   # one product at inference
                q = q.view(b, n, attn.num_heads, attn.head_dim)
                k = torch.cat([kc, kb.view(b, n, attn.num_kv_heads, attn.head_dim)], dim=1)
                v = torch.cat([vc, vb.view(b, n, attn.num_kv_heads, attn.head_dim)], dim=1)
                out = attn.attend_and_project(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), mask)
                return out.reshape(b * n, -1)

            x = layer(x, mix)
        return self.norm(x).view(b, n, h)

    # --- inference --------------------------------------------------------------------------
    def attach_runtime(self) -> None:
        """Draft on the integer CPU runtime (runtime.DraftForward) from now on: for inference next to
        a fast-precision target, once loader.pack_linears packed the products. It reads the weights
        as they are now (pack and attach again after changing them). Context caches then hold fp16
        (the C attention's); call it before any sequence starts."""
        from ..models.runtime import DraftForward
        self.runtime = DraftForward(self)
        # the round's constants now, the draft head's packed rows among them (~150 ms for SmolLM2's
        # 8k-row draft vocabulary), rather than in the first request's first round; as inference
        # builds them (no autograd: DSpark's heads enter the round only then)
        with torch.no_grad():
            self.runtime.round_args(self)

    def _state(self, seq: Sequence) -> ContextCache:
        if not isinstance(seq.draft_state, ContextCache):
            a = self.layers[0].self_attn
            fast = self.runtime is not None      # the C round's cache: fp16, keys in transposed blocks
            dtype = torch.float16 if fast else self._dtype
            seq.draft_state = ContextCache(len(self.layers), a.num_kv_heads, a.head_dim, dtype, self._device,
                                           blocked_keys=fast)
        return seq.draft_state

    def start(self, seq: Sequence) -> None:
        seq.draft_state = None
        self._state(seq)

    def truncate(self, seq: Sequence, length: int) -> None:
        """Forget cached context past `length` tokens (never needed in the normal round: observe
        only receives committed tokens)."""
        st = self._state(seq)
        st.truncate(min(length, st.length))

    @torch.no_grad()
    def observe(self, seq: Sequence, taps: torch.Tensor | None, hidden: torch.Tensor | None) -> None:
        if taps is None or taps.shape[0] == 0:
            return
        m = taps.shape[0]
        start = seq.num_processed - m
        if start < 0:
            raise ValueError(f"{self.algorithm}: {m} taps for a sequence with {seq.num_processed} processed tokens")
        self._check_taps(taps)
        st = self._state(seq)
        if st.length > start:
            st.truncate(start)
        elif st.length < start:
            raise RuntimeError(f"{self.algorithm}: observe() got positions {start}..{start + m - 1} but the "
                               f"drafter holds context up to {st.length}: earlier taps were not observed")
        st.pending.add(taps)
        if len(st.pending) >= MAX_PENDING_ROWS:
            self._flush([st])

    @torch.no_grad()
    def _flush(self, states: list[ContextCache]) -> None:
        """Project the pending taps of `states` into their K/V caches: one fc + norm + K/V product
        over the rows of all of them (rows are independent: each carries its own position)."""
        pending = [(st, st.projected, st.pending.take()) for st in states if st.pending]
        if not pending:
            return
        taps = torch.cat([rows for _, _, rows in pending])
        parts = [(st, start, rows.shape[0]) for st, start, rows in pending]
        positions = torch.cat([torch.arange(start, start + m) for _, start, m in parts])
        if self.runtime is not None:
            for st, start, m in parts:
                st.reserve(start + m)
            cos, sin = self._rope(positions, torch.float32)
            self.runtime.context(taps.float(), cos, sin, [(st.cache, start, m) for st, start, m in parts])
            for st, start, m in parts:
                st.written(start + m)
            return
        kv = self._context_kv(self.context_features(taps), positions.to(self._device))
        row = 0
        for st, start, m in parts:
            rows = slice(row, row + m)
            st.write(start, [(k[rows], v[rows]) for k, v in kv])
            row = rows.stop

    @torch.no_grad()
    def _width(self, seqs: list[Sequence]) -> int:
        """The slots this round drafts: the widest the policy asked of `seqs` (Sequence.draft_width;
        the whole block where it asked none). The slots of a block see each other, so a narrower block
        drafts its first slots a little differently; what verification checks are still its drafts."""
        return max(self.gamma if s.draft_width is None else min(self.gamma, max(1, s.draft_width)) for s in seqs)

    def _draft_pass(self, seqs: list[Sequence], g: int):
        """One batched backbone pass: (U [B, g, V'] fp32, h [B, g, H], anchors [B], drafted) over the
        block's first g slots, drafted None unless the round ran in C with the sequential head
        (`_round_in_c`)."""
        states = []
        for s in seqs:
            st = self._state(s)
            if len(s.tokens) != s.num_processed + 1:
                raise RuntimeError(f"{self.algorithm}: sequence {s.id} has {len(s.tokens)} tokens and "
                                   f"{s.num_processed} processed; a block needs exactly one unprocessed anchor")
            if st.length > s.num_processed:
                st.truncate(s.num_processed)
            if st.length != s.num_processed:
                raise RuntimeError(f"{self.algorithm}: sequence {s.id}: context for {st.length} of "
                                   f"{s.num_processed} processed tokens observed")
            states.append(st)
        if self.runtime is not None and len(seqs) == 1:
            args = self.runtime.round_args(self)
            if args is not None:
                return self._round_in_c(args, seqs[0], states[0], g)
        self._flush(states)
        dev = self._device
        lengths = [st.length for st in states]
        anchors = torch.tensor([s.tokens[-1] for s in seqs], dtype=torch.long, device=dev)
        x = self._block_inputs(anchors, g)
        positions = torch.tensor(lengths, device=dev)[:, None] + torch.arange(g, device=dev)
        if self.runtime is not None:
            for st, n in zip(states, lengths):
                st.reserve(n + g)
            cos, sin = self._rope(positions.reshape(-1), torch.float32)
            h = self.runtime.block(x.reshape(-1, x.shape[-1]), positions, cos, sin, [st.cache for st in states])
            h = h.view(len(seqs), g, -1)
            return self.head_logits(h), h, anchors, None
        if len(seqs) == 1:
            ctx_kv = [states[0].kv(i) for i in range(len(self.layers))]
            mask = None
        else:
            b, c = len(seqs), max(lengths)
            a = self.layers[0].self_attn
            ctx_kv = []
            for i in range(len(self.layers)):
                k = torch.zeros(b, c, a.num_kv_heads, a.head_dim, dtype=self._dtype, device=dev)
                v = torch.zeros_like(k)
                for j, st in enumerate(states):
                    kj, vj = st.kv(i)
                    k[j, :lengths[j]] = kj[0]
                    v[j, :lengths[j]] = vj[0]
                ctx_kv.append((k, v))
            kpos = torch.arange(c + g, device=dev)
            lens = torch.tensor(lengths, device=dev)
            mask = (kpos[None, :] < lens[:, None]) | (kpos[None, :] >= c)       # [B, C + g]
            mask = mask[:, None, None, :].expand(b, 1, g, c + g)
        h = self._block_forward(x, positions, ctx_kv, mask)
        return self.head_logits(h), h, anchors, None

    def _round_in_c(self, args, seq: Sequence, st: ContextCache, g: int):
        """`_flush` and the backbone pass of one sequence over g slots in one C call
        (runtime.DraftForward.round; for a greedy DSpark request the sequential and confidence heads
        too: drafted)."""
        start, m = st.projected, len(st.pending)
        taps = st.pending.take() if m else None
        st.reserve(start + m + g)
        anchor = seq.tokens[-1]
        logits, hidden, drafted = self.runtime.round(args, taps, start, anchor, st.cache, seq.params.greedy, g)
        st.written(start + m)
        return logits, hidden, torch.tensor([anchor]), drafted

    def head_weight(self):
        """The draft head's packed weight on the integer runtime (what the C round multiplies
        with): the draft vocabulary's rows of the target's head, or its whole head; None where it
        did not pack."""
        if self.d2t is not None:
            return self.draft_head.packed_rows(self.target_model, self.d2t)
        head = self.target_model.lm_head
        pw = getattr(head, "packed", None)
        return pw if pw is not None and pw.packs(head.weight) else None

    def round_heads(self) -> dict:
        """What the C round (runtime.DraftForward.round_args) runs past the backbone: DFlash
        samples every slot from the logits in Python, so nothing."""
        return {}

    def _sample(self, seqs: list[Sequence], logits: torch.Tensor, hidden: torch.Tensor,
                anchors: torch.Tensor, drafted=None) -> tuple[list[Proposal], torch.Tensor]:
        """DFlash: every slot sampled independently from its own logits."""
        out = []
        for b, s in enumerate(seqs):
            idx, probs = sample_logits(logits[b], s.params, s.generator)
            # greedy verification compares argmaxes: a greedy request's drafts need no distribution
            out.append(Proposal(self.to_target_ids(idx).tolist(), None if s.params.greedy else self.full_probs(probs)))
        return out, logits

    @torch.no_grad()
    def propose_with_logits(self, seqs: list[Sequence]) -> tuple[list[Proposal], torch.Tensor]:
        """The proposals and the fp32 logits [B, g, V'] each slot was sampled from (before
        sampling-parameter processing; for DSpark after the sequential head); g = gamma unless the
        policy narrowed the round (`_width`)."""
        if not seqs:
            return [], torch.empty(0, self.gamma, self.vocab_out)
        g = self._width(seqs)
        if 1 < len(seqs) <= self.ROUNDS_PER_REQUEST and self.runtime is not None and self.runtime.round_args(self):
            # each request's round and (DSpark) Markov loop as at batch 1, in C
            outs = [self._sample([s], *self._draft_pass([s], g)) for s in seqs]
            return [p for props, _ in outs for p in props], torch.cat([lg for _, lg in outs])
        return self._sample(seqs, *self._draft_pass(seqs, g))

    def propose(self, seqs: list[Sequence]) -> list[Proposal]:
        return self.propose_with_logits(seqs)[0]

    # --- training ---------------------------------------------------------------------------
    def forward_train(self, tokens: torch.Tensor, taps: torch.Tensor, anchors: torch.Tensor,
                      prev_tokens: torch.Tensor | None = None) -> BlockTrainOutput:
        """All A blocks of one sequence in one pass, with the same modules as inference.

        tokens      [T] int64 target token ids of the sequence.
        taps        [T, L*H] the target's tap-layer outputs at those positions (tap_layers order).
        anchors     [A] int64 anchor positions (0 <= a < T). Block a's input is
                    [embed(tokens[a]), mask x (gamma-1)] at positions a..a+gamma-1; its queries see the
                    context rows at positions < a and the block's own keys (bidirectional), never
                    another block.
        prev_tokens optional [A, gamma] x_{k-1} for the sequential head (DSpark); default teacher
                    forcing with the ground truth tokens[a + k] (slot 0: the anchor itself).

        Returns a BlockTrainOutput (per block and slot: draft logits U, final hidden h, labels
        tokens[a+k+1] with a validity mask, the rows of the target's outputs aligned with each slot,
        the prev tokens, and for DSpark the Markov-corrected logits and confidence logits). Slots
        whose label lies past the sequence end are computed but marked invalid. Gradients flow into
        this drafter only when the target model is frozen (its head is shared)."""
        return self.forward_train_many([(tokens, taps, anchors, prev_tokens)])[0]

    def forward_train_many(self, items) -> list[BlockTrainOutput]:
        """`forward_train` for several sequences in one pass: items are (tokens, taps, anchors,
        prev_tokens or None) as there; one BlockTrainOutput per item, the same as one call each.

        The sequences share every product (B x blocks rows instead of one sequence's): contexts are
        zero-padded to one length C, a multiple of CONTEXT_PAD (CPU matmul libraries build a kernel
        per shape, ~80 ms for a bf16 one, so shapes must repeat), and anchor lists to one count A
        (padding blocks sit at position 0, see only themselves and are dropped). Padded rows are
        never visible to a real query: every anchor is <= its own sequence's context length."""
        dev, g = self._device, self.gamma
        seqs = []
        for tokens, taps, anchors, prev in items:
            tokens = tokens.to(dev).long().flatten()
            anchors = anchors.to(dev).long().flatten()
            t_len, a_len = tokens.numel(), anchors.numel()
            if taps.shape[0] != t_len:
                raise ValueError(f"taps have {taps.shape[0]} rows for {t_len} tokens")
            if a_len == 0 or anchors.min() < 0 or anchors.max() >= t_len:
                raise ValueError(f"anchors must be non-empty positions in 0..{t_len - 1}")
            if prev is not None:
                prev = prev.to(dev).long()
                if prev.shape != (a_len, g):
                    raise ValueError(f"prev_tokens must be [{a_len}, {g}], got {tuple(prev.shape)}")
            seqs.append((tokens, taps, anchors, prev))
        b = len(seqs)
        # no block sees context at or past its anchor: sequence i needs rows 0 .. max(anchors_i) - 1
        ctx_len = [int(a.max()) for _, _, a, _ in seqs]
        c = -(-max(max(ctx_len), 1) // CONTEXT_PAD) * CONTEXT_PAD
        a_max = max(a.numel() for _, _, a, _ in seqs)
        width = seqs[0][1].shape[1]
        rows = torch.zeros(b, c, width, dtype=seqs[0][1].dtype, device=seqs[0][1].device)
        anchors = torch.zeros(b, a_max, dtype=torch.long, device=dev)
        for i, (tokens, taps, anc, _) in enumerate(seqs):
            rows[i, :ctx_len[i]] = taps[:ctx_len[i]]
            anchors[i, :anc.numel()] = anc
        ctx = self.context_features(rows.reshape(b * c, width))
        ctx_pos = torch.arange(c, device=dev).repeat(b)
        ctx_kv = [(k.view(b, c, *k.shape[1:]), v.view(b, c, *v.shape[1:]))
                  for k, v in self._context_kv(ctx, ctx_pos)]
        offs = torch.arange(g, device=dev)
        positions = anchors[:, :, None] + offs                               # [B, A, g]
        qblock = torch.arange(a_max, device=dev).repeat_interleave(g)        # block of each query
        see_ctx = torch.arange(c, device=dev)[None, None, :] < anchors[:, qblock][:, :, None]
        see_block = (qblock[:, None] == qblock[None, :]).expand(b, -1, -1)
        mask = torch.cat([see_ctx, see_block], dim=2)[:, None]              # [B, 1, A*g, C + A*g]
        ids = torch.stack([F.pad(t[a], (0, a_max - a.numel())) for t, _, a, _ in seqs])
        x = self._block_inputs(ids.reshape(-1)).reshape(b, a_max * g, -1)
        h = self._block_forward(x, positions.reshape(b, -1), ctx_kv, mask).view(b, a_max, g, -1)
        # the real blocks of every sequence, concatenated: the heads run once for all of them
        sizes = [a.numel() for _, _, a, _ in seqs]
        h = torch.cat([h[i, :n] for i, n in enumerate(sizes)])
        parts = {"labels": [], "valid": [], "target_rows": [], "prev_tokens": []}
        for tokens, _, anc, prev in seqs:
            t_len = tokens.numel()
            pos = anc[:, None] + offs
            label_pos = pos + 1
            valid = label_pos < t_len
            parts["labels"].append(torch.where(valid, tokens[label_pos.clamp(max=t_len - 1)],
                                               torch.zeros_like(label_pos)))
            parts["valid"].append(valid)
            parts["target_rows"].append(pos.clamp(max=t_len - 1))
            parts["prev_tokens"].append(tokens[pos.clamp(max=t_len - 1)] if prev is None else prev)
        out = BlockTrainOutput(logits=self.head_logits(h), hidden=h,
                               **{k: torch.cat(v) for k, v in parts.items()})
        self._train_heads(out)
        fields = [f.name for f in dataclasses.fields(BlockTrainOutput)]
        split = {f: (None if getattr(out, f) is None else getattr(out, f).split(sizes)) for f in fields}
        return [BlockTrainOutput(**{f: (None if split[f] is None else split[f][i]) for f in fields})
                for i in range(b)]

    def _train_heads(self, out: BlockTrainOutput) -> None:
        """Hook for subclasses: fill the sequential / confidence outputs."""
