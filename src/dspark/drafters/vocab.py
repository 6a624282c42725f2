"""Reduced draft vocabulary: the drafter scores only `draft_vocab_size` target tokens.

The mapping is stored the way EAGLE-3 / DFlash / DSpark serving engines expect it:

    d2t  int64 [draft_vocab]   offsets: target_id = i + d2t[i] for draft index i
    t2d  bool  [vocab]         True where a target token is in the draft vocabulary

Draft ids are kept in ascending target-id order, so d2t is non-decreasing and the draft index of a
target token is a prefix count of t2d. The draft distribution has zero mass outside the draft
vocabulary; `expand_probs` scatters it back to the full target vocabulary for verification.
"""
from __future__ import annotations

from typing import Iterable

import torch
import torch.nn.functional as F

from ..errors import DSparkError


def build_vocab_mapping(counts, draft_vocab_size: int,
                        always_include: Iterable[int] = ()) -> tuple[torch.Tensor, torch.Tensor]:
    """(d2t, t2d) keeping the `draft_vocab_size` most frequent tokens.

    counts: [vocab] token frequencies (any numeric sequence or tensor). Ties go to the lower token
    id. `always_include` (e.g. end-of-sequence ids) are kept whatever their count."""
    counts = torch.as_tensor(counts, dtype=torch.float64).flatten().clone()
    vocab = counts.numel()
    if not 0 < draft_vocab_size <= vocab:
        raise DSparkError(f"draft_vocab_size must be in 1..{vocab}, got {draft_vocab_size}")
    forced = sorted({int(t) for t in always_include})
    if any(not 0 <= t < vocab for t in forced):
        raise DSparkError(f"always_include ids {forced} outside the vocabulary of {vocab}")
    if len(forced) > draft_vocab_size:
        raise DSparkError(f"{len(forced)} forced tokens do not fit a draft vocabulary of {draft_vocab_size}")
    counts[forced] = float("inf")
    order = torch.sort(counts, descending=True, stable=True).indices   # most frequent first
    return mapping_from_ids(order[:draft_vocab_size], vocab)


def mapping_from_ids(ids, vocab_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(d2t, t2d) for a set of target ids (any order; stored ascending)."""
    chosen = torch.as_tensor(ids, dtype=torch.long).flatten().unique(sorted=True)
    if chosen.numel() == 0 or chosen[0] < 0 or chosen[-1] >= vocab_size:
        raise DSparkError(f"draft vocabulary ids must be a non-empty subset of 0..{vocab_size - 1}")
    d2t = chosen - torch.arange(chosen.numel())
    t2d = torch.zeros(vocab_size, dtype=torch.bool)
    t2d[chosen] = True
    return d2t, t2d


def identity_mapping(draft_vocab_size: int, vocab_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first `draft_vocab_size` target ids: the placeholder a fresh drafter starts with."""
    return mapping_from_ids(torch.arange(draft_vocab_size), vocab_size)


def count_tokens(sequences: Iterable[Iterable[int]], vocab_size: int) -> torch.Tensor:
    """Token frequencies [vocab] (int64) over some token sequences."""
    counts = torch.zeros(vocab_size, dtype=torch.long)
    for seq in sequences:
        t = torch.as_tensor(list(seq), dtype=torch.long)
        if t.numel():
            counts += torch.bincount(t, minlength=vocab_size)[:vocab_size]
    return counts


def target_ids(d2t: torch.Tensor) -> torch.Tensor:
    """[draft_vocab] the target id of every draft index."""
    return torch.arange(d2t.numel(), device=d2t.device) + d2t


def draft_to_target(idx: torch.Tensor, d2t: torch.Tensor) -> torch.Tensor:
    return idx + d2t[idx]


def target_to_draft(ids: torch.Tensor, t2d: torch.Tensor) -> torch.Tensor:
    """Draft index of target ids, -1 where the token is outside the draft vocabulary."""
    idx = t2d.long().cumsum(0) - 1
    return torch.where(t2d[ids], idx[ids], torch.full_like(ids, -1))


def expand_probs(probs: torch.Tensor, d2t: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """[..., draft_vocab] -> [..., vocab] with zeros outside the draft vocabulary."""
    out = probs.new_zeros(probs.shape[:-1] + (vocab_size,))
    out[..., target_ids(d2t)] = probs
    return out


def check_mapping(d2t: torch.Tensor, t2d: torch.Tensor, vocab_size: int) -> None:
    """Raise DSparkError unless (d2t, t2d) is a valid ascending mapping into `vocab_size` ids."""
    if d2t.dtype != torch.long or t2d.dtype != torch.bool:
        raise DSparkError(f"d2t must be int64 and t2d bool, got {d2t.dtype} and {t2d.dtype}")
    if t2d.numel() != vocab_size:
        raise DSparkError(f"t2d covers {t2d.numel()} tokens, the target vocabulary has {vocab_size}")
    ids = target_ids(d2t)
    if ids.numel() == 0 or ids[0] < 0 or ids[-1] >= vocab_size or (ids.numel() > 1 and (ids.diff() <= 0).any()):
        raise DSparkError("d2t does not map draft ids to increasing target ids inside the vocabulary")
    if int(t2d.sum()) != ids.numel() or not bool(t2d[ids].all()):
        raise DSparkError("t2d does not mark exactly the target ids of d2t")


class DraftHead:
    """The target's LM head rows of a draft vocabulary: logits over the draft vocabulary from normed
    hidden states. Inference keeps the rows until the head or the mapping changes (and with `pack`,
    set when the drafter runs on the integer CPU runtime, their 8-bit copy); with autograd on they
    are sliced afresh so that gradients reach the hidden states."""

    def __init__(self):
        self.pack = False
        self._key, self._rows, self._packed = None, None, None

    def __call__(self, target_model, d2t: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        from ..models.runtime import packed_linear
        w = target_model.lm_head.weight
        if torch.is_grad_enabled():
            out = F.linear(hidden.to(w.dtype), w.index_select(0, target_ids(d2t).to(w.device)))
            # Under autocast (bf16 training) the logits stay in autocast's dtype: the loss casts only the
            # rows it reads; an fp32 copy of all of them, and its backward, were ~10 % of a CPU step.
            return out if torch.is_autocast_enabled(out.device.type) else out.float()
        self.packed_rows(target_model, d2t)
        return packed_linear(hidden.to(w.dtype), self._rows, None, self._packed).float()

    def packed_rows(self, target_model, d2t: torch.Tensor):
        """The rows' packed copy (a PackedWeight in the integer layout; None without `pack`), built
        again when the target's head or the mapping changed since."""
        from ..models.packed import pack_weight, quantize_q8
        w = target_model.lm_head.weight
        key = (w.data_ptr(), w._version, w.dtype, w.device, d2t.data_ptr(), d2t._version, self.pack)
        if key != self._key:
            with torch.inference_mode(False):   # a normal tensor: packed copies check its version
                self._rows = w.index_select(0, target_ids(d2t).to(w.device))
            # the rows of a quantized head pack exactly; otherwise (an fp32 head) as Q8_0
            pw = (pack_weight(self._rows) or quantize_q8(self._rows)) if self.pack else None
            self._packed = pw.lay_out("fast") if pw is not None else None
            self._key = key
        return self._packed
