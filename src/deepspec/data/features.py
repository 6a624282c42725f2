"""Target features for drafter training: what the frozen target says about each training sequence.

For a tokenized sample of T tokens a feature source returns

    Features(taps   [T, L*H]   the raw outputs of the L requested target decoder layers
                               ("output of layer i" = HF output_hidden_states[i + 1]),
                               concatenated in `tap_layers` order,
             hidden [T, H]     the target's final normed hidden state (the LM-head input), so
                               p_t at row t = softmax(target.logits(hidden[t])) predicts token t+1)

Two sources share one call signature, `source(samples: list[TokenizedSample]) -> list[Features]`
(same order as `samples`) and the attribute `tap_layers`:

- `OnlineFeatures` (here): runs the frozen target with no grad over the samples in flat batches
  (several samples per forward, at most `token_budget` tokens per forward), nothing written.
- `deepspec.data.feature_cache.CachedFeatures`: reads the same tensors from a precomputed cache.

Tensors come back on the target's device in the target's dtype (the trainer moves/casts them).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from dspark.batch import FlatBatch
from dspark.errors import DSparkError

__all__ = ["Features", "OnlineFeatures", "plan_forwards"]


@dataclass
class Features:
    taps: torch.Tensor      # [T, L*H]
    hidden: torch.Tensor    # [T, H]

    @property
    def num_tokens(self) -> int:
        return int(self.hidden.shape[0])

    def to(self, device=None, dtype=None) -> "Features":
        return Features(self.taps.to(device=device, dtype=dtype), self.hidden.to(device=device, dtype=dtype))


def plan_forwards(lengths: Sequence[int], token_budget: int) -> list[list[int]]:
    """Group sample indices into forwards of at most `token_budget` tokens (a longer sample gets a
    forward of its own). Samples are taken longest first so each forward's padding (queries are
    padded to the longest sample of the forward) stays small."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    groups: list[list[int]] = []
    cur: list[int] = []
    used = 0
    for i in order:
        n = lengths[i]
        if cur and used + n > token_budget:
            groups.append(cur)
            cur, used = [], 0
        cur.append(i)
        used += n
    if cur:
        groups.append(cur)
    return groups


class OnlineFeatures:
    """Compute features on the fly with the frozen target (no grad, nothing on disk).

    target_model: a dspark TargetModel (loader.Target.model); tap_layers: target layer indices
    (the drafter's `tap_layers`); token_budget: most tokens per target forward."""

    def __init__(self, target_model, tap_layers: Sequence[int], token_budget: int = 4096):
        n = target_model.cfg.num_layers
        taps = [int(t) for t in tap_layers]
        if not taps or any(not 0 <= t < n for t in taps):
            raise DSparkError(f"tap_layers {taps} must be non-empty layers of the {n}-layer target")
        if token_budget < 1:
            raise DSparkError(f"token_budget must be >= 1, got {token_budget}")
        self.target_model = target_model
        self.tap_layers = tuple(taps)
        self.token_budget = int(token_budget)

    def __call__(self, samples) -> list[Features]:
        lengths = [len(s.input_ids) for s in samples]
        if any(n < 1 for n in lengths):
            bad = next(s for s in samples if len(s.input_ids) < 1)
            raise DSparkError(f"sample {bad.id!r} has no tokens")
        out: list[Features | None] = [None] * len(samples)
        for group in plan_forwards(lengths, self.token_budget):
            for i, f in zip(group, self._forward([samples[i] for i in group])):
                out[i] = f
        return out  # type: ignore[return-value]

    @torch.no_grad()
    def _forward(self, samples) -> list[Features]:
        model = self.target_model
        dev = model.device
        max_len = max(len(s.input_ids) for s in samples)
        cache = model.new_cache(len(samples), max_len)    # the cache its forward expects (fp16 for the fast runtime)
        entries = []
        for s in samples:
            entries.append((cache.allocate(), 0, [int(t) for t in s.input_ids]))
        batch = FlatBatch.build(entries, dev)
        res = model.forward(batch, cache, taps=self.tap_layers, need_logits=False)
        taps = res.tap_rows
        feats, row = [], 0
        for s in samples:
            n = len(s.input_ids)
            feats.append(Features(taps[row:row + n], res.hidden[row:row + n]))
            row += n
        return feats
