"""The engine: every path (generate, eval, serve, bench) runs this same round.

    step():
      admit      waiting requests take a KV slot and are prefilled (chunked, flat batch)
      draft      the drafter proposes a block for every running request the policy lets draft
                 (the SPS policies pause requests whose drafts did not pay for themselves)
      schedule   the policy picks how many drafts of each to verify
      verify     ONE target forward over all verified tokens, flattened; lossless accept/reject
                 (sampled drafts: the block rule by default, see verify.py)
      commit     extend tokens, roll the KV cache back past rejected drafts, feed the drafter
      retire     end of sequence, stop strings, max_tokens, cancellation
"""
from __future__ import annotations

import itertools
import time
from collections import deque
from dataclasses import dataclass

import torch

from .batch import FlatBatch
from .drafters.base import Drafter, Proposal
from .errors import DSparkError
from .models.decoder import TargetModel
from .models.runtime import step_threads
from .sampling import SamplingParams, sample_logits
from .schedule import Policy, make_policy
from .sequence import Sequence
from .stats import RoundRecord, RoundTotals
from .verify import check_rule, verify


# Request ids are unique in the process, not only in one engine: round records carry them
# (RoundRecord.request), and the records of several engines (eval's datasets) are pooled.
_request_ids = itertools.count()


@dataclass
class EngineConfig:
    max_batch: int = 8            # concurrent sequences (KV-cache slots)
    max_len: int = 2048           # tokens per sequence: prompt + output + one draft block
    prefill_chunk: int = 512      # prompt tokens per prefill forward
    policy: str = "fixed"
    verification: str = "block"   # how sampled drafts are judged: block or token (verify.py)
    # A released slot keeps its entries; a prompt that starts with the tokens they hold (the next
    # turn of a conversation) skips computing them again. Off by default: with it, requests'
    # prefill work depends on what ran before them. Needs a drafter that does not observe positions.
    prefix_reuse: bool = False


@dataclass
class StepEvent:
    seq: Sequence
    new_tokens: list[int]
    finished: bool
    finish_reason: str | None = None


def context_room(drafter) -> int:
    """KV positions a sequence needs beyond its prompt and output: the anchor of the last round and
    one draft block verified after it."""
    return (getattr(drafter, "gamma", 0) or 0) + 2


def make_engine(target, drafter=None, *, tokens: int | None = None, max_len: int | None = None,
                max_batch: int = 1, policy: str = "fixed", prefill_chunk: int = 512, sps_table=None,
                policy_obj: Policy | None = None, verification: str = "block") -> "Engine":
    """The one engine factory of every entry point (generate, serve, bench, eval, regenerate): it
    owns context sizing. KV length per sequence = `tokens` (the longest prompt + output to serve)
    + context_room(drafter), capped by `max_len` and by the target's position limit."""
    limit = target.config.max_position_embeddings
    want = [limit]
    if tokens is not None:
        want.append(tokens + context_room(drafter))
    if max_len is not None:
        want.append(max_len)
    cfg = EngineConfig(max_batch=max_batch, max_len=min(want), prefill_chunk=prefill_chunk, policy=policy,
                       verification=verification)
    return Engine(target.model, drafter, cfg, eos_ids=target.eos_ids, tokenizer=target.tokenizer,
                  policy=policy_obj, sps_table=sps_table)


class Engine:
    def __init__(self, model: TargetModel, drafter: Drafter | None = None, config: EngineConfig | None = None,
                 eos_ids: set[int] | None = None, tokenizer=None, policy: Policy | None = None,
                 sps_table=None):
        self.model = model
        self.drafter = drafter or Drafter()
        self.config = config or EngineConfig()
        check_rule(self.config.verification)
        self.eos_ids = set(model.cfg.eos_token_ids if eos_ids is None else eos_ids)
        self.tokenizer = tokenizer  # only needed for stop strings
        self.policy = policy or make_policy(self.config.policy, drafter=self.drafter, sps_table=sps_table)
        self.cache = model.new_cache(self.config.max_batch, self.config.max_len)
        self.waiting: deque[Sequence] = deque()
        self.prefilling: list[Sequence] = []
        self.running: list[Sequence] = []
        self.stats = RoundTotals()        # every request's rounds, summed (dspark.stats)
        self._cancelled: set[int] = set()
        self._held: dict[int, list[int]] = {}     # prefix reuse: free slot -> the tokens it holds, oldest first
        if self.config.prefix_reuse and self.drafter.observes_positions:
            raise DSparkError(f"prefix reuse needs a drafter that reads only the tokens (none, ngram); "
                              f"{self.drafter.algorithm} builds state from every position")

    @property
    def context_limit(self) -> int:
        """Prompt + output tokens one sequence may hold (the rest is room for a draft block)."""
        return self.config.max_len - context_room(self.drafter)

    # --- requests ------------------------------------------------------------------------
    def add_request(self, prompt_ids: list[int], params: SamplingParams | None = None,
                    max_new_tokens: int = 256, stop: list[str] | None = None) -> Sequence:
        params = params or SamplingParams()
        if not prompt_ids:
            raise DSparkError("empty prompt")
        if max_new_tokens < 1:
            raise DSparkError("max_new_tokens must be at least 1")
        if len(prompt_ids) > self.context_limit:
            raise DSparkError(f"prompt has {len(prompt_ids)} tokens; the context holds {self.config.max_len} "
                              f"(at most {self.context_limit} prompt tokens with this drafter)")
        vocab = self.model.cfg.vocab_size
        if any(not 0 <= t < vocab for t in prompt_ids):
            raise DSparkError(f"prompt holds token ids outside the vocabulary (0..{vocab - 1})")
        seq = Sequence(id=next(_request_ids), tokens=list(prompt_ids), prompt_len=len(prompt_ids), params=params,
                       generator=params.generator(self.model.device), max_new_tokens=max_new_tokens,
                       stop=list(stop or []))
        self.waiting.append(seq)
        return seq

    def cancel(self, seq: Sequence) -> None:
        self._cancelled.add(seq.id)

    @property
    def has_work(self) -> bool:
        return bool(self.waiting or self.prefilling or self.running)

    # --- the round -----------------------------------------------------------------------
    @torch.inference_mode()
    def step(self) -> list[StepEvent]:
        events: list[StepEvent] = []
        self._drop_cancelled(events)
        self._admit()
        with step_threads(self.model):     # the CPU runtime's C kernels get the threads
            if self.prefilling:
                events += self._prefill()
            if self.running:
                events += self._decode_round()
        self.stats.steps += 1
        return events

    def _admit(self) -> None:
        # Admission control: a request waits until a KV slot is free.
        while self.waiting and self.cache.free_slots:
            seq = self.waiting.popleft()
            slot, held = self._pick_slot(seq) if self.config.prefix_reuse else (None, 0)
            seq.slot = self.cache.allocate(slot, keep=held)
            seq.num_processed = held
            if self.policy.admit(seq, len(self.running) + len(self.prefilling) + 1):
                self.drafter.start(seq)
            self.prefilling.append(seq)

    def _pick_slot(self, seq: Sequence) -> tuple[int, int]:
        """(slot, entries to keep): the free slot holding the longest prefix of the prompt, short of
        its last token (whose logits give the first output token); with no common prefix, a slot
        that holds nothing, else the one released longest ago."""
        best, best_n, limit = None, 0, seq.prompt_len - 1
        for slot, held in self._held.items():
            n = 0
            for a, b in zip(held[:limit], seq.tokens):
                if a != b:
                    break
                n += 1
            if n > best_n:
                best, best_n = slot, n
        if best is None:
            empty = [s for s in self.cache.free_slot_ids if s not in self._held]
            best = empty[-1] if empty else next(iter(self._held))
        self._held.pop(best, None)
        return best, best_n

    def _prefill(self) -> list[StepEvent]:
        budget, parts = self.config.prefill_chunk, []
        for seq in self.prefilling:
            if budget <= 0:
                break
            n = min(budget, seq.prompt_len - seq.num_processed)
            parts.append((seq, n))
            budget -= n
        batch = FlatBatch.build([(s.slot, s.num_processed, s.tokens[s.num_processed:s.num_processed + n])
                                 for s, n in parts], self.model.device)
        ends = torch.tensor([n for _, n in parts]).cumsum(0) - 1
        batch.logit_rows = ends.to(self.model.device)
        out = self.model(batch, self.cache, taps=self._taps_for(s for s, _ in parts))
        taps = out.tap_rows
        events, row = [], 0
        for i, (seq, n) in enumerate(parts):
            rows = slice(row, row + n)
            row += n
            seq.num_processed += n
            if not self.policy.detached(seq):
                self.drafter.observe(seq, None if taps is None else taps[rows],
                                     out.hidden[rows] if self.drafter.reads_hidden else None)
            if seq.num_processed == seq.prompt_len:    # prompt done: its last row gives token 1
                tok, _ = sample_logits(out.logits[i:i + 1], seq.params, seq.generator)
                self.prefilling.remove(seq)
                self.running.append(seq)
                events.append(self._commit_tokens(seq, [int(tok[0])]))
        return events

    def _decode_round(self) -> list[StepEvent]:
        round_start = time.perf_counter()
        seqs = list(self.running)
        wants = self.policy.drafts_for(seqs) if self.drafter.gamma > 0 else [False] * len(seqs)
        drafting = [s for s, w in zip(seqs, wants) if w]
        stop = self.policy.draft_stop(seqs) if drafting else None
        for s in drafting:
            s.draft_stop, s.draft_width = stop, self.policy.draft_width(s)
        t0 = time.perf_counter()
        drafts = iter(self.drafter.propose(drafting) if drafting else [])
        draft_seconds = time.perf_counter() - t0
        for s in drafting:
            s.draft_stop = s.draft_width = None
        proposals = [next(drafts) if w else Proposal([]) for w in wants]
        # Hard caps that do not depend on draft values: output budget and context room.
        caps = [max(0, min(len(p), s.max_new_tokens - s.num_new - 1, self.config.max_len - len(s.tokens) - 1))
                for s, p in zip(seqs, proposals)]
        lengths = self.policy.choose(seqs, proposals, caps)
        if drafting:
            self.policy.drafted(drafting, draft_seconds)
            for s in drafting:
                if self.policy.detached(s):      # drafts no more: its drafter state goes now
                    self.drafter.finish(s)
        drafted = [len(p) for p in proposals]
        proposals = [p.truncated(n) for p, n in zip(proposals, lengths)]
        batch = FlatBatch.build([(s.slot, s.num_processed, [s.tokens[-1]] + p.tokens)
                                 for s, p in zip(seqs, proposals)], self.model.device)
        out = self.model(batch, self.cache, taps=self._taps_for(seqs))
        verdicts = verify(out.logits, proposals, [s.params for s in seqs], [s.generator for s in seqs],
                          self.config.verification)
        self.policy.observe(seqs, proposals, verdicts)
        taps = out.tap_rows
        events, row = [], 0
        self.stats.rounds += 1
        for seq, prop, made, v in zip(seqs, proposals, drafted, verdicts):
            n, a = len(prop.tokens), v.accepted
            # The target processed anchor + a accepted drafts; forget the rejected rest.
            keep = slice(row, row + 1 + a)
            row += n + 1
            self.cache.truncate(seq.slot, seq.num_processed + 1 + a)
            seq.num_processed += 1 + a
            if not self.policy.detached(seq):
                self.drafter.observe(seq, None if taps is None else taps[keep],
                                     out.hidden[keep] if self.drafter.reads_hidden else None)
            ev = self._commit_tokens(seq, v.tokens)
            committed = len(ev.new_tokens)
            record = RoundRecord(
                proposed=n, accepted=a, committed=committed, drafted=made,
                # the round ended on an accepted end-of-sequence draft (no bonus token)
                eos=ev.finish_reason == "eos" and committed <= a,
                confidence_logits=prop.confidence_logits, request=seq.id, source=prop.source)
            seq.rounds.append(record)
            self.drafter.verified(seq, prop, record)
            self.stats.add(record)
            events.append(ev)
        # what the round cost besides drafting (the forward, verdicts, bookkeeping): what a step of
        # this size costs the policy (Policy.timed)
        self.policy.timed(len(batch.tokens), len(seqs), time.perf_counter() - round_start - draft_seconds)
        return events

    def _taps_for(self, seqs) -> tuple:
        """The target layers whose outputs the drafter reads, when one of `seqs` still drafts."""
        return self.drafter.tap_layers if any(not self.policy.detached(s) for s in seqs) else ()

    # --- commit and retire ---------------------------------------------------------------
    def _commit_tokens(self, seq: Sequence, tokens: list[int]) -> StepEvent:
        eos_at = next((i for i, t in enumerate(tokens) if t in self.eos_ids), None)
        if eos_at is not None:                   # an end-of-sequence token ends the output
            tokens = tokens[:eos_at + 1]
        room = seq.max_new_tokens - seq.num_new
        if len(tokens) > room:
            tokens, eos_at = tokens[:room], None
        reason = "eos" if eos_at is not None else ("length" if len(tokens) == room else None)
        seq.tokens.extend(tokens)
        if reason is None and len(seq.tokens) >= self.config.max_len:
            reason = "length"                    # the context is full: the next anchor has no room
        if reason is None and seq.stop and self.tokenizer is not None and tokens and self._stopped(seq, len(tokens)):
            reason = "stop"
        if reason is not None:
            self._retire(seq)
        return StepEvent(seq, tokens, reason is not None, reason)

    def _stopped(self, seq: Sequence, new: int) -> bool:
        """Whether a stop string has appeared with the `new` last tokens. It was not in the text before
        them, so it ends in their text and starts at most the longest stop string before it: decode
        that window, widened until the text before the new tokens is longer than the longest stop
        string (and the few characters a cut through a multi-byte one turns into replacements).
        Decoding the whole output every round cost ~1 us a token."""
        out, reach = seq.output_ids, max(len(s) for s in seq.stop) + 4
        start = max(0, len(out) - new - reach)
        while start > 0 and len(self.tokenizer.decode(out[start:len(out) - new])) <= reach:
            start = max(0, start - reach)
        text = self.tokenizer.decode(out[start:])
        return any(s in text for s in seq.stop)

    def _retire(self, seq: Sequence) -> None:
        if seq in self.running:
            self.running.remove(seq)
        if seq in self.prefilling:
            self.prefilling.remove(seq)
        self.drafter.finish(seq)
        self.policy.forget(seq)
        self.cache.release(seq.slot)
        if self.config.prefix_reuse:
            self._held[seq.slot] = seq.tokens[:seq.num_processed]
        seq.slot = -1

    def _drop_cancelled(self, events: list[StepEvent]) -> None:
        if not self._cancelled:
            return
        for seq in list(self.waiting):
            if seq.id in self._cancelled:
                self.waiting.remove(seq)
                events.append(StepEvent(seq, [], True, "cancelled"))
        for seq in self.prefilling + self.running:
            if seq.id in self._cancelled:
                self._retire(seq)
                events.append(StepEvent(seq, [], True, "cancelled"))
        self._cancelled.clear()

    def run_until_done(self, on_event=None) -> None:
        while self.has_work:
            for ev in self.step():
                if on_event:
                    on_event(ev)

