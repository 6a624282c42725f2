"""Prompt lookup: continue the longest earlier occurrence of the last n tokens. Needs no training
and no target features; its proposals are deterministic (one-hot distributions)."""
from __future__ import annotations

from ..sequence import Sequence
from .base import Drafter, Proposal


class NgramDrafter(Drafter):
    algorithm = "ngram"

    def __init__(self, gamma: int = 7, max_ngram: int = 4, min_ngram: int = 1):
        if not 1 <= min_ngram <= max_ngram:
            raise ValueError("need 1 <= min_ngram <= max_ngram")
        self.gamma, self.max_ngram, self.min_ngram = gamma, max_ngram, min_ngram

    def lookup(self, tokens: list[int]) -> list[int]:
        n_tok = len(tokens)
        for n in range(min(self.max_ngram, n_tok - 1), self.min_ngram - 1, -1):
            suffix = tokens[n_tok - n:]
            # The most recent earlier match tends to continue best.
            for start in range(n_tok - n - 1, -1, -1):
                if tokens[start:start + n] == suffix:
                    cont = tokens[start + n:start + n + self.gamma]
                    if cont:
                        return cont
        return []

    def propose(self, seqs: list[Sequence]) -> list[Proposal]:
        return [Proposal(self.lookup(s.tokens)) for s in seqs]
