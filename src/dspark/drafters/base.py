"""The drafter protocol: what every drafter receives each round and what it must return.

Per round the engine calls `observe` with the target's feature taps for the tokens the target has
just processed and committed, then `propose` for a batch of sequences. A proposal carries the draft
tokens, the exact distributions they were drawn from (after every logits processing step and any
sequential-head correction: verification divides by these) and optionally a confidence per position.
"""
from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

import torch

from ..sequence import Sequence
from ..stats import RoundRecord


@dataclass
class Proposal:
    tokens: list[int]
    # [n, V] the distributions the tokens were sampled from; None = a deterministic proposal
    # (one-hot at each token, e.g. n-gram lookup or greedy drafting).
    probs: torch.Tensor | None = None
    # [n] c_k = P(slot k survives | slots < k survived); calibrated when a calibration is loaded.
    confidences: torch.Tensor | None = None
    # [n] the raw confidence logits (what calibration and evaluation record).
    confidence_logits: torch.Tensor | None = None
    # Without confidences, the policies estimate survival from the past rounds of proposals of the
    # same source (e.g. ("ngram", 3): lookups that matched 3 tokens); None = one shared history.
    # Known before the drafts are, as the causal rule needs (n-gram drafts follow from the context).
    source: Hashable = None

    def __len__(self) -> int:
        return len(self.tokens)

    def truncated(self, n: int) -> "Proposal":
        """The first n drafts. Lossless when n does not depend on the draft values beyond what the
        scheduler's causal rule allows."""
        cut = lambda t: None if t is None else t[:n]  # noqa: E731
        return Proposal(self.tokens[:n], cut(self.probs), cut(self.confidences), cut(self.confidence_logits),
                        self.source)


class PendingTaps:
    """Target taps a drafter has observed and not used yet. Drafters defer their per-token work on
    observed context to the next draft, where the rows of many steps and sequences make one batched
    product, and a step that does not draft costs the drafter nothing."""

    def __init__(self):
        self._taps: list[torch.Tensor] = []

    def __len__(self) -> int:
        """Rows (positions) held."""
        return sum(t.shape[0] for t in self._taps)

    def add(self, taps: torch.Tensor) -> None:
        self._taps.append(taps)

    def take(self) -> torch.Tensor:
        """All rows [m, L*H] in observation order (at least one must be held); holds none after."""
        taps, self._taps = torch.cat(self._taps), []
        return taps

    def keep(self, rows: int) -> None:
        """Forget every row after the first `rows`."""
        if rows < len(self):
            self._taps = [torch.cat(self._taps)[:rows]] if rows else []


class Drafter:
    """Base class; the `none` drafter (plain decoding through the same loop) is this class itself."""
    algorithm = "none"
    gamma = 0
    tap_layers: tuple[int, ...] = ()   # target decoder layers whose outputs the drafter reads
    # The drafter builds state from every position the target processes (observe); False when it
    # reads only seq.tokens, so the engine may skip a prompt prefix still in the cache.
    observes_positions = False
    # observe() reads the final hidden states; else it gets None and the engine does not compute
    # them (ForwardOutput.hidden)
    reads_hidden = False

    def start(self, seq: Sequence) -> None:
        """A new request was admitted (before its prefill)."""

    def observe(self, seq: Sequence, taps: torch.Tensor | None, hidden: torch.Tensor | None) -> None:
        """The target has processed and committed m more tokens of `seq`: those are
        seq.tokens[seq.num_processed - m : seq.num_processed]. taps [m, len(tap_layers) * H]
        (layer outputs concatenated in tap_layers order) and hidden [m, H] (final normed state; None
        unless the drafter sets reads_hidden)."""

    def propose(self, seqs: list[Sequence]) -> list[Proposal]:
        return [Proposal([]) for _ in seqs]

    def verified(self, seq: Sequence, proposal: Proposal, record: RoundRecord) -> None:
        """A round of `seq` was verified: `proposal` as verified (cut to record.proposed drafts) and
        what became of it. Called after observe, before the next propose."""

    def finish(self, seq: Sequence) -> None:
        """The request retired; drop its state."""
        seq.draft_state = None
