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
    _derived: dict = field(default_factory=dict, repr=False)   # masks and row tensors, made on demand

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
        # Each row's position and slot as one tensor of both (what the runtime reads), the rest on
        # demand: a decode step's batch is a few rows, where each small torch op costs more than the
        # lists, and more again right after a forward has streamed the weights through the caches
        # (one sequence, after a forward: 72 -> 58 us; RESULTS.md, session 41)
        n = self.tokens.numel()
        rows = self._derived.pop("rows", None)        # build() makes them with the tokens
        if rows is None:
            rows = torch.tensor(self._row_lists(self.slots, self.starts, self.counts), dtype=torch.long, device=dev)
        self.positions, self.row_slot = rows[:n], rows[n:]

    @staticmethod
    def _row_lists(slots: list[int], starts: list[int], counts: list[int]) -> list[int]:
        """Each row's position, then each row's slot."""
        return ([st + j for st, c in zip(starts, counts) for j in range(c)]
                + [s for s, c in zip(slots, counts) for _ in range(c)])

    @property
    def row_seq(self) -> torch.Tensor:
        """[N] each row's sequence index (0..num_seqs - 1)."""
        return self._lazy("row_seq", lambda: [i for i, c in enumerate(self.counts) for _ in range(c)])

    @property
    def row_off(self) -> torch.Tensor:
        """[N] each row's offset among its sequence's new tokens."""
        return self._lazy("row_off", lambda: [j for c in self.counts for j in range(c)])

    @property
    def slot_index(self) -> torch.Tensor:
        """[B] each sequence's KV-cache slot."""
        return self._lazy("slot_index", lambda: self.slots)

    def _lazy(self, name: str, values) -> torch.Tensor:
        t = self._derived.get(name)
        if t is None:
            t = self._derived[name] = torch.tensor(values(), dtype=torch.long, device=self.tokens.device)
        return t

    @classmethod
    def build(cls, seqs: list[tuple[int, int, list[int]]], device, logit_rows=None) -> "FlatBatch":
        """seqs: (slot, start, new_tokens) per sequence."""
        tokens = [t for _, _, toks in seqs for t in toks]
        slots, starts, counts = [s for s, _, _ in seqs], [st for _, st, _ in seqs], [len(t) for _, _, t in seqs]
        if logit_rows is not None and not isinstance(logit_rows, torch.Tensor):
            logit_rows = torch.tensor(logit_rows, dtype=torch.long, device=device)
        # the tokens, the positions and the slots as one tensor (one small torch op, not three)
        ints = torch.tensor(tokens + cls._row_lists(slots, starts, counts), dtype=torch.long, device=device)
        return cls(ints[:len(tokens)], slots, starts, counts, logit_rows, {"rows": ints[len(tokens):]})

    @property
    def single(self) -> bool:
        return self.num_seqs == 1

    def mask(self, window: int | None = None) -> torch.Tensor | None:
        """[B, 1, max_new, max_ctx] bool: causal within each sequence, optionally sliding.
        None when every query may see every cached key (one-token decode without a window)."""
        key = window
        if key in self._derived:
            return self._derived[key]
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
        self._derived[key] = m
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
