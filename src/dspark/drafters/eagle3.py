"""EAGLE-3: an autoregressive drafter of one decoder layer on the target's features.

Alignment (the standard EAGLE convention, used identically by inference and training):
draft position t pairs the token x[t+1] with a hidden state g[t] and predicts x[t+2].

- For committed positions (the target has processed x[t]) g[t] = fc(taps[t]), where taps[t] are the
  raw outputs of the target layers in `tap_layers` concatenated ([L * H]); fc: L*H -> H.
- For draft steps g is the draft layer's own output (before `norm`) at the previous position.
- Layer: attention input [input_layernorm(embed(x[t+1])) ; hidden_norm(g[t])] (2H wide), residual
  stream g[t]; then `norm` and the target's LM head.

Parameter names are the EAGLE-3 names (`midlayer.*`, `fc.weight`, `norm.weight`, and with a reduced
draft vocabulary the buffers `d2t`/`t2d` in vocab.py's convention), so an export to the SGLang / vLLM
layout is a renaming; exporters add `lm_head.weight` = the target's head rows at
vocab.target_ids(d2t) (or the full head, with identity d2t / all-true t2d, when
draft_vocab_size is 0). With a reduced vocabulary, drafts are sampled over the draft vocabulary and
Proposal.probs are scattered back to the full vocabulary (zero outside it).

This module also holds `ChainDrafter`, the inference and training-time-test machinery shared with
the MTP drafter (mtp.py): both are "one layer, its own KV cache, chained over its own hidden".

Inference round for a sequence with n = seq.num_processed committed tokens (anchor x[n]):
  1. roll the drafter's cache back to the committed positions (drops last round's draft K/V),
  2. process the positions committed since the last round, [cached, n), with their taps: one
     flat-batch forward over all sequences; the output at n-1 gives the logits for draft 1,
  3. gamma - 1 chained one-token steps (token = previous draft, hidden = previous output), each
     writing K/V at positions n, n+1, ... that step 1 of the next round rolls back.
Training-time test (`forward_train`) runs the same modules over a whole sequence for `steps`
unrolled steps with the attention pattern that makes step k equal k chained inference steps.
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field

import torch
from torch import nn

from ..batch import FlatBatch
from ..errors import DSparkError
from ..models.config import ModelConfig, RopeConfig
from ..models.decoder import DecoderLayer, cached_attention
from ..models.kv_cache import KVCache
from ..models.layers import Linear, RMSNorm, Rotary
from ..sampling import sample_logits
from ..sequence import Sequence
from . import vocab as vocab_map
from .base import Drafter, PendingTaps, Proposal
from .checkpoint import register


@dataclass
class ChainState:
    """Per-sequence drafter state (seq.draft_state)."""
    slot: int                                              # slot in the drafter's own KV cache
    cached: int = 0                                        # committed positions in that cache
    pending: PendingTaps = field(default_factory=PendingTaps)  # taps observed, not yet processed
    last_hidden: torch.Tensor | None = None                # layer output at position cached - 1


class ChainDrafter(nn.Module, Drafter):
    """One draft layer with its own KV cache, chained over its own hidden state.

    Subclasses define `_initial_hidden(taps)` (committed positions), `_step(emb, hidden, mix)`
    (one layer application; mix is the attention) and `_final_norm(out)`, and set `self.layer`
    (the DecoderLayer), `self.layer_cfg` (its ModelConfig) and `self.rotary`.
    """
    observes_positions = True         # its own KV cache over the target's taps

    # --- construction helpers ---------------------------------------------------------------
    def _setup_common(self, config, target_model, tap_layers, gamma: int) -> None:
        # Plain attributes (not submodules): the target is shared at run time and its embedding
        # and LM head never enter this drafter's state_dict or its .to() moves.
        object.__setattr__(self, "target_model", target_model)
        self.config = config
        self.target_cfg: ModelConfig = target_model.cfg
        self.tap_layers = tuple(int(t) for t in tap_layers)
        self.gamma = int(gamma)
        self._cache: KVCache | None = None
        self._used_slots: set[int] = set()
        self._min_slots, self._min_len = 4, 256

    @property
    def _param(self) -> torch.Tensor:
        return next(self.parameters())

    def _embed(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.target_model.model.embed(tokens).to(self._param.dtype)

    def _logits(self, out: torch.Tensor) -> torch.Tensor:
        """Layer output (pre-norm) -> fp32 logits over the draft vocabulary (the target's, or
        the reduced one of `d2t`)."""
        return self._head(self._final_norm(out))

    # --- (optional) reduced draft vocabulary ------------------------------------------------
    @property
    def reduced_vocab(self) -> bool:
        return getattr(self, "d2t", None) is not None

    def _init_vocab(self, draft_vocab_size: int) -> None:
        """draft_vocab_size 0 (or the target's vocab): full vocabulary. Otherwise buffers d2t /
        t2d (vocab.py conventions, identity placeholder until set_draft_vocab) select rows of the
        target's LM head; the drafter holds no head weights of its own."""
        vocab = self.target_cfg.vocab_size
        if draft_vocab_size in (0, vocab):
            self.d2t = self.t2d = None
            return
        if not 0 < draft_vocab_size < vocab:
            raise DSparkError(f"{self.algorithm}: draft_vocab_size must be in 0..{vocab}, got {draft_vocab_size}")
        d2t, t2d = vocab_map.identity_mapping(draft_vocab_size, vocab)
        self.register_buffer("d2t", d2t)
        self.register_buffer("t2d", t2d)
        self.draft_head = vocab_map.DraftHead()

    @torch.no_grad()
    def set_draft_vocab(self, d2t: torch.Tensor, t2d: torch.Tensor | None = None) -> None:
        """Install a mapping from vocab.build_vocab_mapping (same draft_vocab_size)."""
        if not self.reduced_vocab:
            raise DSparkError(f"{self.algorithm}: this drafter uses the full vocabulary (draft_vocab_size 0)")
        d2t = torch.as_tensor(d2t, dtype=torch.long)
        if t2d is None:
            _, t2d = vocab_map.mapping_from_ids(vocab_map.target_ids(d2t), self.target_cfg.vocab_size)
        vocab_map.check_mapping(d2t, t2d, self.target_cfg.vocab_size)
        if d2t.shape != self.d2t.shape:
            raise DSparkError(f"draft vocabulary has {d2t.numel()} ids, this drafter {self.d2t.numel()}")
        self.d2t.copy_(d2t)
        self.t2d.copy_(t2d)

    def head_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """The target's LM head, restricted to the draft vocabulary when there is one: normed
        hidden [..., H] -> fp32 [..., vocab_out]. Apply it to forward_train(..., return_hidden=True)
        in chunks when V is large, and to the target's final hidden states to get the target
        logits over the same vocabulary."""
        return self._head(hidden)

    @property
    def vocab_out(self) -> int:
        """Width of the draft logits: the draft vocabulary, or the target's."""
        return self.d2t.numel() if self.reduced_vocab else self.target_cfg.vocab_size

    def _head(self, h: torch.Tensor) -> torch.Tensor:
        tm = self.target_model
        h = h.to(tm.dtype)
        if not self.reduced_vocab:
            return tm.logits(h)
        out = self.draft_head(tm, self.d2t, h)
        cap = self.target_cfg.final_logit_softcap
        return cap * torch.tanh(out / cap) if cap else out

    # --- the drafter's own KV cache -----------------------------------------------------------
    def reserve(self, num_seqs: int, max_len: int) -> None:
        """Optionally size the cache up front (it also grows on demand)."""
        self._min_slots, self._min_len = max(1, num_seqs), max(1, max_len)
        self._ensure_cache(num_seqs, max_len)

    def _ensure_cache(self, slots: int = 0, length: int = 0) -> KVCache:
        p, old = self._param, self._cache
        if (old is not None and old.num_slots >= slots and old.max_len >= length
                and old.k[0].dtype == p.dtype and old.k[0].device == p.device):
            return old
        n_slots = max(slots, self._min_slots, old.num_slots if old else 0)
        n_len = max(length, self._min_len, old.max_len if old else 0)
        if old is not None:   # grow geometrically so growth is amortized
            if n_slots > old.num_slots:
                n_slots = max(n_slots, 2 * old.num_slots)
            if n_len > old.max_len:
                n_len = max(n_len, 2 * old.max_len)
        with torch.inference_mode(False):   # normal tensors: usable inside and outside inference mode
            new = KVCache.for_model(self.layer_cfg, n_slots, n_len, p.dtype, p.device, num_layers=1)
        # Reproduce the slot bookkeeping through the public API: take every slot, give back the
        # unused ones (lowest first out).
        for _ in range(n_slots):
            new.allocate()
        for s in range(n_slots - 1, -1, -1):
            if s not in self._used_slots:
                new.release(s)
        if old is not None:
            new.copy_prefix(old, old.max_len)      # every slot's entries, in the new dtype and device
            for s in self._used_slots:
                new.lengths[s] = old.lengths[s]
        self._cache = new
        return new

    # --- the protocol ------------------------------------------------------------------------
    def start(self, seq: Sequence) -> None:
        if isinstance(seq.draft_state, ChainState):
            self.finish(seq)
        cache = self._ensure_cache()
        if cache.free_slots == 0:
            cache = self._ensure_cache(slots=cache.num_slots + 1)
        slot = cache.allocate()
        self._used_slots.add(slot)
        seq.draft_state = ChainState(slot)

    def finish(self, seq: Sequence) -> None:
        st = seq.draft_state
        if isinstance(st, ChainState) and st.slot in self._used_slots:
            self._used_slots.discard(st.slot)
            self._cache.release(st.slot)
        seq.draft_state = None

    def observe(self, seq: Sequence, taps: torch.Tensor | None, hidden: torch.Tensor | None) -> None:
        st = seq.draft_state
        if not isinstance(st, ChainState):
            raise RuntimeError(f"{self.algorithm} drafter: observe() before start() for sequence {seq.id}")
        if taps is None or taps.shape[0] == 0:
            return
        m = taps.shape[0]
        if seq.num_processed - m != st.cached + len(st.pending):
            raise RuntimeError(
                f"{self.algorithm} drafter out of sync on sequence {seq.id}: it holds "
                f"{st.cached + len(st.pending)} positions, the engine reports tokens "
                f"[{seq.num_processed - m}, {seq.num_processed})")
        st.pending.add(taps.detach())

    @torch.no_grad()
    def propose(self, seqs: list[Sequence]) -> list[Proposal]:
        proposals = [Proposal([]) for _ in seqs]
        active = [i for i, s in enumerate(seqs) if self._can_draft(s)]
        if not active or self.gamma < 1:
            return proposals
        steps = self._chain([seqs[i] for i in active], self.gamma, picker=None)
        for j, i in enumerate(active):
            toks, probs = steps[j]
            proposals[i] = Proposal(toks, torch.cat(probs, 0))
        return proposals

    def _can_draft(self, seq: Sequence) -> bool:
        st = seq.draft_state
        if not isinstance(st, ChainState) or seq.num_processed < 1:
            return False
        if len(seq.tokens) != seq.num_processed + 1:
            raise RuntimeError(f"{self.algorithm} drafter: sequence {seq.id} has {len(seq.tokens)} "
                               f"tokens and {seq.num_processed} processed; expected exactly one anchor")
        if st.cached + len(st.pending) != seq.num_processed:
            raise RuntimeError(f"{self.algorithm} drafter out of sync on sequence {seq.id}: observed "
                               f"{st.cached + len(st.pending)} positions, {seq.num_processed} processed")
        return bool(st.pending) or st.last_hidden is not None

    def _chain(self, seqs: list[Sequence], steps: int, picker=None):
        """Run one drafting round for `seqs` (all drafting-ready). picker(j, step, logits[1, V])
        -> (target token id, probs) overrides sampling (tests force tokens this way); logits are
        over the draft vocabulary.
        Returns per sequence (tokens, [probs [1, V]] per step)."""
        cache = self._ensure_cache(length=max(s.num_processed for s in seqs) + steps)
        dev = self._param.device
        states: list[ChainState] = [s.draft_state for s in seqs]
        for st in states:   # roll back last round's draft K/V
            cache.truncate(st.slot, st.cached)

        # 1. committed positions not yet in the cache, all sequences in one flat batch
        fresh = [j for j, st in enumerate(states) if st.pending]
        if fresh:
            entries, taps = [], []
            for j in fresh:
                s, st = seqs[j], states[j]
                entries.append((st.slot, st.cached, s.tokens[st.cached + 1: s.num_processed + 1]))
                taps.append(st.pending.take())
            batch = FlatBatch.build(entries, dev)
            hidden = self._initial_hidden(torch.cat(taps, 0).to(device=dev, dtype=self._param.dtype))
            out = self._forward(batch, hidden, cache)
            last_rows = torch.tensor(batch.counts, device=dev).cumsum(0) - 1
            for r, j in enumerate(fresh):
                st = states[j]
                st.last_hidden = out[last_rows[r]].unsqueeze(0).clone()
                st.cached = seqs[j].num_processed
        cur = torch.cat([st.last_hidden for st in states], 0)

        # 2. chained draft steps
        results = [([], []) for _ in seqs]
        for k in range(steps):
            logits = self._logits(cur)
            toks = []
            for j, s in enumerate(seqs):
                if picker is None:
                    tok, probs = sample_logits(logits[j:j + 1], s.params, s.generator)
                    if self.reduced_vocab:
                        tok = vocab_map.draft_to_target(tok, self.d2t)
                        probs = vocab_map.expand_probs(probs, self.d2t, self.target_cfg.vocab_size)
                    tok = int(tok[0])
                else:
                    tok, probs = picker(j, k, logits[j:j + 1])
                results[j][0].append(tok)
                results[j][1].append(probs)
                toks.append(tok)
            if k == steps - 1:
                break
            batch = FlatBatch.build([(st.slot, cache.lengths[st.slot], [t]) for st, t in zip(states, toks)], dev)
            cur = self._forward(batch, cur, cache)
        return results

    def _forward(self, batch: FlatBatch, hidden: torch.Tensor, cache: KVCache) -> torch.Tensor:
        """One layer application over a flat batch against the drafter's cache; commits it."""
        cos, sin = self.rotary(batch.positions, hidden.dtype)
        mix = functools.partial(cached_attention, self.layer.self_attn, cos=cos, sin=sin,
                                cache=cache, layer_idx=0, batch=batch)
        out = self._step(self._embed(batch.tokens), hidden, mix)
        cache.commit(batch)
        return out

    # --- training-time test --------------------------------------------------------------------
    def forward_train(self, tokens: torch.Tensor, taps: torch.Tensor, steps: int | None = None,
                      return_hidden: bool = False) -> torch.Tensor:
        """Unrolled training forward with the inference modules ("training-time test").

        tokens [T] or [B, T] (int64), taps [T, L*H] or [B, T, L*H] (the target's tap-layer
        outputs at the same positions, `tap_layers` order). steps defaults to gamma.

        Returns logits [steps, T, V] (or [steps, B, T, V]), fp32, over the draft vocabulary
        (V = the target's, or draft_vocab_size with index i <-> target id i + d2t[i]), where
            logits[k, t] predicts tokens[t + 2 + k]
        from the input at "row" t of step k: token tokens[t + 1 + k] and hidden = the initial
        hidden of position t (k = 0) or the step k-1 output at row t (k >= 1) -- i.e. k chained
        inference steps after committing tokens[0..t] (anchor tokens[t+1]), with ground-truth
        tokens as the earlier drafts. Row t of step k is valid iff t + 2 + k < T (padded rows use
        token 0 and must be masked). The matching target distribution is the target's LM head on
        its final normed hidden at position t + 1 + k. `train_alignment` returns these indices.

        Attention: step k, row t (rotary position t + k) sees step-0 keys of rows 0..t (the
        committed prefix) and the step-1..k keys of row t itself (its own earlier drafts).
        return_hidden=True returns the normed hidden [steps, (B,) T, H] instead of logits (then
        `head_logits(h)` in chunks when V is large). Gradients flow into the target's
        embedding/LM head too unless the caller freezes them.
        """
        steps = self.gamma if steps is None else int(steps)
        if steps < 1:
            raise ValueError("steps must be >= 1")
        squeeze = tokens.dim() == 1
        if squeeze:
            tokens, taps = tokens.unsqueeze(0), taps.unsqueeze(0)
        b, t_len = tokens.shape
        dev, dtype = self._param.device, self._param.dtype
        tokens = tokens.to(dev)
        attn = self.layer.self_attn
        rows = torch.arange(t_len, device=dev)
        keys: list[torch.Tensor] = []
        values: list[torch.Tensor] = []
        cur = self._initial_hidden(taps.to(device=dev, dtype=dtype).reshape(b * t_len, -1))
        outs = []
        for k in range(steps):
            # inputs of step k: token t+1+k (padded with 0 past the end)
            idx = rows + 1 + k
            tok = torch.where(idx < t_len, tokens[:, idx.clamp(max=t_len - 1)], torch.zeros_like(tokens))
            cos, sin = self.rotary(rows + k, dtype)
            cos, sin = cos.repeat(b, 1), sin.repeat(b, 1)
            mask = self._ttt_mask(t_len, k, dev)

            def mix(a, cos=cos, sin=sin, mask=mask):
                q = attn.project_q(a, cos, sin)
                kk, vv = attn.project_kv(a, cos, sin)
                keys.append(kk.reshape(b, t_len, *kk.shape[1:]).transpose(1, 2))
                values.append(vv.reshape(b, t_len, *vv.shape[1:]).transpose(1, 2))
                q = q.reshape(b, t_len, *q.shape[1:]).transpose(1, 2)
                o = attn.attend_and_project(q, torch.cat(keys, 2), torch.cat(values, 2), mask)
                return o.reshape(b * t_len, -1)

            cur = self._step(self._embed(tok.reshape(-1)), cur, mix)
            h = self._final_norm(cur)
            outs.append(h if return_hidden else self._head(h))
        out = torch.stack(outs, 0)
        out = out.view(steps, b, t_len, -1)
        return out[:, 0] if squeeze else out

    @staticmethod
    def _ttt_mask(t_len: int, k: int, device) -> torch.Tensor:
        """[1, 1, T, (k+1) T]: causal over step-0 keys, diagonal over the step-1..k keys."""
        r = torch.arange(t_len, device=device)
        blocks = [r[None, :] <= r[:, None]] + [r[None, :] == r[:, None]] * k
        return torch.cat(blocks, 1)[None, None]

    @staticmethod
    def train_alignment(num_tokens: int, steps: int, device=None) -> tuple[torch.Tensor, torch.Tensor]:
        """(label_pos [steps, T], valid [steps, T]): logits[k, t] predicts tokens[label_pos[k, t]];
        its target distribution is the target's LM head at position label_pos[k, t] - 1; only
        valid entries (label_pos < T) are supervised (combine with the loss mask at label_pos)."""
        t = torch.arange(num_tokens, device=device)
        k = torch.arange(steps, device=device)
        label = t[None, :] + 2 + k[:, None]
        return label.clamp(max=max(num_tokens - 1, 0)), label < num_tokens

    # --- subclass hooks ------------------------------------------------------------------------
    def _initial_hidden(self, taps: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _step(self, emb: torch.Tensor, hidden: torch.Tensor, mix) -> torch.Tensor:
        raise NotImplementedError

    def _final_norm(self, out: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


def default_eagle3_taps(num_layers: int) -> list[int]:
    """EAGLE-3's low/mid/high taps as "output of layer i" ids: vLLM/SGLang capture the INPUTS of
    layers (2, L//2, L-3), i.e. the outputs of layers (1, L//2-1, L-4). Tiny targets fall back to
    distinct spread layers, short of the last one when there is another (engines hand a draft that
    layer's output only after the target's final norm)."""
    std = [1, num_layers // 2 - 1, num_layers - 4]
    if std[0] < std[1] < std[2]:
        return std
    return sorted({0, (num_layers - 1) // 2, max(num_layers - 2, 0)})


def _check_common(config, target_cfg: ModelConfig, algorithm: str) -> None:
    if config.block_size < 1:
        raise DSparkError(f"{algorithm}: block_size must be >= 1, got {config.block_size}")
    for name in ("intermediate_size", "num_heads", "num_kv_heads", "head_dim"):
        if getattr(config, name, 0) < 0:
            raise DSparkError(f"{algorithm}: {name} must be >= 0 (0 = the target's)")


@register
class Eagle3Drafter(ChainDrafter):
    algorithm = "eagle3"

    @dataclass
    class Config:
        block_size: int = 7                  # gamma: draft tokens per round
        tap_layers: list[int] | None = None  # target layers whose outputs feed fc; None: EAGLE-3's
        intermediate_size: int = 0           # draft layer MLP width; 0 = the target's
        num_heads: int = 0                   # 0 = the target's
        num_kv_heads: int = 0                # 0 = the target's
        head_dim: int = 0                    # 0 = the target's
        rope_theta: float = 0.0              # 0 = the target's (global) rotary base
        draft_vocab_size: int = 0            # 0 = full vocabulary; else rows d2t of the target head

    def __init__(self, config: "Eagle3Drafter.Config", target_model):
        super().__init__()
        tcfg: ModelConfig = target_model.cfg
        _check_common(config, tcfg, self.algorithm)
        taps = list(config.tap_layers) if config.tap_layers else default_eagle3_taps(tcfg.num_layers)
        if any(not 0 <= t < tcfg.num_layers for t in taps):
            raise DSparkError(f"eagle3: tap_layers {taps} out of range for a {tcfg.num_layers}-layer target")
        config = dataclasses.replace(config, tap_layers=taps)
        self._setup_common(config, target_model, taps, config.block_size)
        h = tcfg.hidden_size
        heads = config.num_heads or tcfg.num_heads
        # A Llama-style layer whatever the target family (the layout EAGLE-3 engines load).
        self.layer_cfg = ModelConfig(
            arch="llama", vocab_size=tcfg.vocab_size, hidden_size=h,
            intermediate_size=config.intermediate_size or tcfg.intermediate_size, num_layers=1,
            num_heads=heads, num_kv_heads=config.num_kv_heads or (tcfg.num_kv_heads if not config.num_heads else heads),
            head_dim=config.head_dim or tcfg.head_dim, rms_norm_eps=tcfg.rms_norm_eps,
            rope=RopeConfig(theta=config.rope_theta or tcfg.rope.theta, scaling=tcfg.rope.scaling,
                            factor=tcfg.rope.factor),
            max_position_embeddings=tcfg.max_position_embeddings)
        self.fc = Linear(len(taps) * h, h, bias=False)
        self.midlayer = DecoderLayer(self.layer_cfg, attn_in_dim=2 * h)
        self.midlayer.hidden_norm = RMSNorm(h, tcfg.rms_norm_eps)
        self.norm = RMSNorm(h, tcfg.rms_norm_eps)
        self.rotary = Rotary(self.layer_cfg.head_dim, self.layer_cfg.rope)
        self._init_vocab(config.draft_vocab_size)

    @classmethod
    def build(cls, config: "Eagle3Drafter.Config", target_model) -> "Eagle3Drafter":
        return cls(config, target_model).to(device=target_model.device, dtype=target_model.dtype)

    @property
    def layer(self) -> DecoderLayer:
        return self.midlayer

    def _initial_hidden(self, taps: torch.Tensor) -> torch.Tensor:
        return self.fc(taps)

    def _step(self, emb, hidden, mix):
        layer = self.midlayer
        attn_in = torch.cat((layer.input_layernorm(emb), layer.hidden_norm(hidden)), -1)
        return layer(hidden, mix, attn_input=attn_in)

    def _final_norm(self, out):
        return self.norm(out)
