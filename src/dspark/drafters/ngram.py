"""Prompt lookup: continue the longest earlier occurrence of the last n tokens. Needs no training
and no target features; its proposals are deterministic (one-hot distributions)."""
from __future__ import annotations

from ..sequence import Sequence
from .base import Drafter, Proposal


class _Index:
    """Where each n-gram of a request's tokens last started, for the n-grams that end before its last
    token (`upto` end positions indexed so far, the token at upto - 1 to see that they still hold)."""
    __slots__ = ("tokens", "upto", "last", "starts")

    def __init__(self, tokens: list[int], sizes: range):
        self.tokens, self.upto, self.last = tokens, 0, None
        self.starts = {n: {} for n in sizes}


class NgramDrafter(Drafter):
    algorithm = "ngram"

    def __init__(self, gamma: int = 7, max_ngram: int = 4, min_ngram: int = 1):
        if not 1 <= min_ngram <= max_ngram:
            raise ValueError("need 1 <= min_ngram <= max_ngram")
        self.gamma, self.max_ngram, self.min_ngram = gamma, max_ngram, min_ngram
        self._index: dict[int, _Index] = {}       # request id -> its n-gram index

    def lookup_request(self, seq: Sequence) -> tuple[list[int], int]:
        """(the continuation of the longest match of the request's last n tokens, max_ngram >= n >=
        min_ngram, at its most recent earlier occurrence, which tends to continue best; its length n),
        or ([], 0) when nothing matches. From an index of the request's n-grams that grows with its
        tokens: a scan of the whole context read it all every round a match was missing (0.6 ms at
        2,000 tokens, an eighth of a DSpark round there; RESULTS.md, session 43), the index reads
        only the tokens committed since the last round."""
        tokens, n_tok = seq.tokens, len(seq.tokens)
        idx = self._index.get(seq.id)
        stale = idx is None or idx.tokens is not tokens or n_tok < idx.upto
        if stale or (idx.upto and tokens[idx.upto - 1] != idx.last):      # a new request, or its tokens changed
            idx = self._index[seq.id] = _Index(tokens, range(self.min_ngram, self.max_ngram + 1))
        for end in range(idx.upto, n_tok - 1):      # every n-gram ending before the last token
            for n, starts in idx.starts.items():
                if end >= n - 1:
                    starts[tuple(tokens[end - n + 1:end + 1])] = end - n + 1     # the latest start wins
        if n_tok - 1 > idx.upto:
            idx.upto, idx.last = n_tok - 1, tokens[n_tok - 2]
        for n in range(min(self.max_ngram, n_tok - 1), self.min_ngram - 1, -1):
            start = idx.starts[n].get(tuple(tokens[n_tok - n:]))
            if start is not None:                    # ends before the last token: a continuation follows
                return tokens[start + n:start + n + self.gamma], n
        return [], 0

    def finish(self, seq: Sequence) -> None:
        self._index.pop(seq.id, None)

    def propose(self, seqs: list[Sequence]) -> list[Proposal]:
        # a longer match continues better: the policies keep acceptance history per match length
        return [Proposal(cont, source=("ngram", n)) for cont, n in (self.lookup_request(s) for s in seqs)]


class LookupFirst(Drafter):
    """N-gram lookup where the context repeats itself (a match of at least `min_match` tokens), a
    trained drafter everywhere else (`--drafter ngram+dspark`). Lookup drafts cost nothing and, where
    the match is long, survive about as often as a trained drafter's; the trained drafter observes
    every committed position all the same (its per-position work waits for the next round it drafts),
    so it is ready whenever lookup has nothing good. Lossless per round either way: each proposal
    carries what verification needs (the trained drafter's distributions, or none for lookup's
    deterministic drafts), and whether lookup answers depends on the context alone."""

    def __init__(self, drafter: Drafter, min_match: int = 2, max_ngram: int = 4):
        if drafter.gamma < 1:
            raise ValueError("LookupFirst needs a drafter that drafts (gamma >= 1)")
        self.drafter = drafter
        if hasattr(drafter, "behind_lookup"):   # its calibration for the contexts lookup leaves it
            drafter.behind_lookup()
        self.ngram = NgramDrafter(gamma=drafter.gamma, max_ngram=max(max_ngram, min_match), min_ngram=min_match)
        self.algorithm = f"ngram+{drafter.algorithm}"
        self.checkpoint_dir = getattr(drafter, "checkpoint_dir", None)   # its rounds' confidences are the drafter's
        self.gamma = drafter.gamma
        self.tap_layers = drafter.tap_layers
        self.observes_positions = drafter.observes_positions
        self.reads_hidden = drafter.reads_hidden

    def start(self, seq: Sequence) -> None:
        self.drafter.start(seq)

    def observe(self, seq: Sequence, taps, hidden) -> None:
        self.drafter.observe(seq, taps, hidden)

    def verified(self, seq: Sequence, proposal: Proposal, record) -> None:
        self.drafter.verified(seq, proposal, record)   # a lookup proposal carries no confidences

    def finish(self, seq: Sequence) -> None:
        self.ngram.finish(seq)
        self.drafter.finish(seq)

    def calibration(self) -> dict | None:
        """The trained drafter's confidence calibration (what its rounds' confidences went through)."""
        return self.drafter.calibration() if hasattr(self.drafter, "calibration") else None

    def propose(self, seqs: list[Sequence]) -> list[Proposal]:
        looked = [self.ngram.lookup_request(s) for s in seqs]
        out = [Proposal(cont, source=("ngram", n)) for cont, n in looked]
        rest = [i for i, (cont, _) in enumerate(looked) if not cont]
        if rest:   # one batched draft for the requests lookup had nothing for
            for i, p in zip(rest, self.drafter.propose([seqs[i] for i in rest])):
                if p.source is None:   # named in round records and reports ("dspark" next to "ngram:3")
                    p.source = self.drafter.algorithm
                out[i] = p
        return out
