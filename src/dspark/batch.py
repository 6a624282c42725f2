"""The flat batch: new tokens of several sequences laid end to end, with no padding.

Every linear layer runs once over all N rows. Only attention needs to know which row belongs to
which sequence; for that this class pads *queries* (a handful per sequence) into [B, max_new] and
builds the boolean mask once per forward, shared by all layers.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class FlatBatch:
    tokens: torch.Tensor            # [N] int64
    slots: list[int]                # KV-cache slot of each sequence
    starts: list[int]               # tokens already cached for each sequence (= first new position)
    counts: list[int]               # new tokens of each sequence (>= 1)
    logit_rows: torch.Tensor | None = None  # rows whose logits are needed; None = all rows
    _masks: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        if not (len(self.slots) == len(self.starts) == len(self.counts)):
            raise ValueError("slots, starts and counts must have one entry per sequence")
        if any(c < 1 for c in self.counts) or sum(self.counts) != self.tokens.numel():
            raise ValueError("counts must be positive and sum to the number of tokens")
        dev = self.tokens.device
        self.num_seqs = len(self.counts)
        self.max_new = max(self.counts)
        self.ends = [s + c for s, c in zip(self.starts, self.counts)]
        self.max_ctx = max(self.ends)
        # Per-row sequence index and offset inside its sequence's new tokens, the row's position and
        # slot: built as lists, one tensor each (a decode step's batch is a few rows, where ten small
        # torch ops cost more than the lists: 50 against 23 us for one sequence on CPU)
        row_seq = [i for i, c in enumerate(self.counts) for _ in range(c)]
        row_off = [j for c in self.counts for j in range(c)]
        self.row_seq = torch.tensor(row_seq, dtype=torch.long, device=dev)
        self.row_off = torch.tensor(row_off, dtype=torch.long, device=dev)
        self.positions = torch.tensor([self.starts[i] + j for i, j in zip(row_seq, row_off)], dtype=torch.long,
                                      device=dev)
        self.slot_index = torch.tensor(self.slots, dtype=torch.long, device=dev)
        self.row_slot = torch.tensor([self.slots[i] for i in row_seq], dtype=torch.long, device=dev)

    @classmethod
    def build(cls, seqs: list[tuple[int, int, list[int]]], device, logit_rows=None) -> "FlatBatch":
        """seqs: (slot, start, new_tokens) per sequence."""
        tokens = torch.tensor([t for _, _, toks in seqs for t in toks], dtype=torch.long, device=device)
        if logit_rows is not None and not isinstance(logit_rows, torch.Tensor):
            logit_rows = torch.tensor(logit_rows, dtype=torch.long, device=device)
        return cls(tokens, [s for s, _, _ in seqs], [st for _, st, _ in seqs],
                   [len(t) for _, _, t in seqs], logit_rows)

    @property
    def single(self) -> bool:
        return self.num_seqs == 1

    def mask(self, window: int | None = None) -> torch.Tensor | None:
        """[B, 1, max_new, max_ctx] bool: causal within each sequence, optionally sliding.
        None when every query may see every cached key (one-token decode without a window)."""
        key = window
        if key in self._masks:
            return self._masks[key]
        windowed = window is not None and self.max_ctx > window
        if self.single and self.max_new == 1 and not windowed:
            m = None
        else:
            dev = self.tokens.device
            qpos = torch.zeros(self.num_seqs, self.max_new, dtype=torch.long, device=dev)
            qpos[self.row_seq, self.row_off] = self.positions
            kpos = torch.arange(self.max_ctx, device=dev)
            # Padded query rows keep qpos 0: they see key 0 only (never NaN), and are dropped.
            m = kpos[None, None, :] <= qpos[:, :, None]
            if windowed:
                m = m & (kpos[None, None, :] > qpos[:, :, None] - window)
            m = m[:, None]
        self._masks[key] = m
        return m

    def pad(self, x: torch.Tensor) -> torch.Tensor:
        """[N, ...] -> [B, max_new, ...] (zeros in padded rows)."""
        if self.single:
            return x.unsqueeze(0)
        out = x.new_zeros((self.num_seqs, self.max_new) + tuple(x.shape[1:]))
        out[self.row_seq, self.row_off] = x
        return out

    def unpad(self, y: torch.Tensor) -> torch.Tensor:
        """[B, max_new, ...] -> [N, ...]"""
        if self.single:
            return y[0]
        return y[self.row_seq, self.row_off]
