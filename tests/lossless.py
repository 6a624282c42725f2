"""Helpers for the losslessness tests: an independent greedy reference, batched sampling through
the engine, the exact target distribution of short continuations, and a chi-square test."""
from __future__ import annotations

import itertools

import torch
from scipy import stats

from conftest import TEST_DEVICE
from dspark.batch import FlatBatch
from dspark.drafters.base import Drafter, Proposal
from dspark.engine import Engine, EngineConfig
from dspark.sampling import SamplingParams, probabilities, sample_logits


def full_logits(model, tokens: list[int]) -> torch.Tensor:
    """Logits of the last position, recomputed from scratch (no incremental cache)."""
    cache = model.new_cache(1, len(tokens) + 1)
    s = cache.allocate()
    return model(FlatBatch.build([(s, 0, tokens)], model.device, logit_rows=[len(tokens) - 1]), cache).logits[0]


def scan_lookup(tokens: list[int], gamma: int, min_ngram: int, max_ngram: int) -> tuple[list[int], int]:
    """NgramDrafter.lookup_request's reference, by scanning the whole context: the continuation (up
    to gamma tokens) of the most recent earlier occurrence of the longest suffix n-gram, max_ngram >=
    n >= min_ngram, and n; ([], 0) when none occurs."""
    n_tok = len(tokens)
    for n in range(min(max_ngram, n_tok - 1), min_ngram - 1, -1):
        suffix = tokens[n_tok - n:]
        for start in range(n_tok - n - 1, -1, -1):
            if tokens[start:start + n] == suffix:
                return tokens[start + n:start + n + gamma], n
    return [], 0


def greedy_reference(model, prompt: list[int], n: int) -> list[int]:
    toks = list(prompt)
    for _ in range(n):
        toks.append(int(full_logits(model, toks).argmax()))
    return toks[len(prompt):]


def run_engine(model, drafter, prompts, params_list, max_new: int, policy="fixed", max_batch=8, sps=None,
               stagger: bool = False, verification: str = "block"):
    """Generate for all prompts through one engine; with stagger, requests join mid-run."""
    engine = Engine(model, drafter, EngineConfig(max_batch=max_batch, max_len=max(map(len, prompts)) + max_new + 16,
                                                 policy=policy, verification=verification),
                    eos_ids=set(), sps_table=sps)
    pending = list(zip(prompts, params_list))
    seqs = []
    if not stagger:
        seqs = [engine.add_request(p, sp, max_new) for p, sp in pending]
        pending = []
    while engine.has_work or pending:
        if pending:   # one new request joins every step while others are mid-flight
            p, sp = pending.pop(0)
            seqs.append(engine.add_request(p, sp, max_new))
        engine.step()
    return [s.output_ids for s in seqs], engine


def exact_joint(model, prompt: list[int], params: SamplingParams, n_tokens: int) -> dict[tuple, float]:
    """P(first n_tokens generated tokens) under the processed target distribution."""
    out = {(): 1.0}
    for _ in range(n_tokens):
        nxt = {}
        for prefix, p in out.items():
            if p < 1e-12:
                continue
            probs = probabilities(full_logits(model, prompt + list(prefix))[None], params)[0]
            for t in torch.nonzero(probs > 0).flatten().tolist():
                nxt[prefix + (t,)] = p * float(probs[t])
        out = nxt
    return out


def chi_square_pvalue(samples: list[tuple], exact: dict[tuple, float], min_expected: float = 5.0) -> float:
    """Pearson chi-square of sampled outcomes against exact probabilities; cells with a small
    expected count are pooled into one."""
    n = len(samples)
    counts = {}
    for s in samples:
        counts[s] = counts.get(s, 0) + 1
    assert all(k in exact for k in counts), "sampled an outcome the target gives zero probability"
    big = [k for k, p in exact.items() if p * n >= min_expected]
    obs = [counts.get(k, 0) for k in big]
    exp = [exact[k] * n for k in big]
    rest_obs, rest_exp = n - sum(obs), n - sum(exp)
    if rest_exp >= min_expected:
        obs.append(rest_obs)
        exp.append(rest_exp)
    else:
        assert rest_obs <= max(3, 3 * rest_exp), "too many samples in near-impossible outcomes"
        scale = n / sum(exp)
        exp = [e * scale for e in exp]
    return float(stats.chisquare(obs, exp).pvalue)


class TableDrafter(Drafter):
    """A test drafter: proposes gamma tokens from a fixed random Markov table (next-token logits
    given the previous token), sampled with the request's parameters. Cheap, stochastic and far from
    the target, so every branch of rejection sampling runs. deterministic=True proposes the table's
    argmax with probs=None (one-hot), like n-gram lookup."""
    algorithm = "test-table"

    def __init__(self, vocab: int, gamma: int = 3, deterministic: bool = False, seed: int = 0, sharpness=2.0):
        g = torch.Generator().manual_seed(seed)
        self.table = (torch.randn(vocab, vocab, generator=g, dtype=torch.float64) * sharpness).to(TEST_DEVICE)
        self.gamma, self.deterministic = gamma, deterministic

    def propose(self, seqs):
        out = []
        for s in seqs:
            prev, toks, probs = s.tokens[-1], [], []
            for _ in range(self.gamma):
                logits = self.table[prev][None]
                if self.deterministic:
                    prev = int(logits.argmax())
                else:
                    t, p = sample_logits(logits, s.params, s.generator)
                    prev = int(t[0])
                    probs.append(p[0])
                toks.append(prev)
            out.append(Proposal(toks, None if self.deterministic else torch.stack(probs)))
        return out


def sample_continuations(model, drafter, prompt, params: SamplingParams, n_samples: int, n_tokens: int,
                         policy="fixed", batch: int = 64, sps=None, verification: str = "block",
                         slots: int | None = None) -> list[tuple]:
    """n_samples continuations, `batch` requests per engine; slots: the engine's KV slots (the
    requests run that many at a time; default all at once)."""
    out = []
    seeds = itertools.count(params.seed or 0)
    while len(out) < n_samples:
        k = min(batch, n_samples - len(out))
        plist = [SamplingParams(params.temperature, params.top_p, params.top_k, next(seeds)) for _ in range(k)]
        outs, _ = run_engine(model, drafter, [prompt] * k, plist, n_tokens, policy=policy, max_batch=slots or k,
                             sps=sps, verification=verification)
        out += [tuple(o[:n_tokens]) for o in outs]
    return out


def random_trained_drafter(algorithm: str, model, gamma: int = 3, seed: int = 0, **config):
    """A DSpark / DFlash / Eagle3 / MTP drafter with random weights (every parameter perturbed, so
    DSpark's Markov bias, which starts at zero, is active)."""
    from dspark.drafters.checkpoint import REGISTRY
    cls = REGISTRY[algorithm]
    drafter = cls.build(cls.Config(block_size=gamma, **config), model)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in drafter.parameters():
            p.add_(torch.randn(p.shape, generator=g, dtype=p.dtype).to(p.device) * 0.3)
    return drafter.eval()


class OracleDrafter(Drafter):
    """Proposes the target's true greedy continuation with some positions corrupted, so rounds
    accept long prefixes, reject in the middle and accept whole blocks (bonus token)."""
    algorithm = "test-oracle"

    def __init__(self, model, gamma=4, error_rate=0.3, seed=0):
        self.model, self.gamma, self.error_rate = model, gamma, error_rate
        self.rng = torch.Generator().manual_seed(seed)

    def propose(self, seqs):
        out = []
        for s in seqs:
            toks = greedy_reference(self.model, s.tokens, self.gamma)
            for j in range(len(toks)):
                if torch.rand((), generator=self.rng) < self.error_rate:
                    toks[j] = (toks[j] + 1) % self.model.cfg.vocab_size
            conf = torch.linspace(0.9, 0.5, self.gamma, dtype=torch.float64, device=self.model.device)
            out.append(Proposal(toks, None, conf))
        return out
