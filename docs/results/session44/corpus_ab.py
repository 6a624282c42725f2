"""Session 44 prototype: the default (context lookup, then DSpark) against context lookup, then a
lookup into the target's own regenerated answers, then DSpark. Batch-1 greedy, interleaved per prompt."""
import sys, time
import numpy as np, torch
sys.path.insert(0, "/work/main/benchmarks")
from decode_speed import sample_prompts
from dspark.drafters import load as load_drafter
from dspark.drafters.base import Proposal
from dspark.drafters.ngram import LookupFirst
from dspark.generate import generate
from dspark.models.loader import load_target
from dspark.profile import sps_for_policies
from dspark.sampling import SamplingParams
torch.set_num_threads(2)
corpus = np.load("/tmp/s44/corpus_tokens.npy"); N = len(corpus)
SIZES = tuple(int(x) for x in (sys.argv[3] if len(sys.argv) > 3 else "8,6,4,3").split(","))
MIN_COUNT, SHARE = 2, 0.5
MUL = np.uint64(1000003)
def hashes(arr, n):
    h = np.zeros(len(arr) - n + 1, dtype=np.uint64)
    a = arr.astype(np.int64).astype(np.uint64) + np.uint64(2)
    for k in range(n): h = h * MUL + a[k:len(arr) - n + 1 + k]
    return h
index = {}
for n in SIZES:
    h = hashes(corpus, n); o = np.argsort(h, kind="stable"); index[n] = (h[o], o.astype(np.int64))
def hq(ctx, n):
    return hashes(np.asarray(ctx[-n:], dtype=np.int64), n)[0]
def corpus_lookup(ctx, gamma=7, cap=256):
    for n in SIZES:
        if len(ctx) < n: continue
        hs, pos = index[n]; q = hq(ctx, n)
        lo, hi = np.searchsorted(hs, q, "left"), np.searchsorted(hs, q, "right")
        if hi - lo < MIN_COUNT: continue
        alive = pos[lo:min(hi, lo + cap)] + n; out = []
        for k in range(gamma):
            nxt = corpus[np.minimum(alive + k, N - 1)]
            vals, counts = np.unique(nxt, return_counts=True); j = counts.argmax()
            if vals[j] < 0 or counts[j] < SHARE * len(alive) or counts[j] < MIN_COUNT: break
            out.append(int(vals[j])); alive = alive[nxt == vals[j]]
        if out: return out, n
        return [], 0
    return [], 0
class CorpusFirst(LookupFirst):
    def propose(self, seqs):
        looked = [self.ngram.lookup_request(s) for s in seqs]
        out = [Proposal(c, source=("ngram", n)) for c, n in looked]
        for i, (c, _) in enumerate(looked):
            if not c:
                d, n = corpus_lookup(seqs[i].tokens)
                if d: out[i] = Proposal(d, source=("corpus", n))
        rest = [i for i, p in enumerate(out) if not p.tokens]
        if rest:
            for i, p in zip(rest, self.drafter.propose([seqs[i] for i in rest])):
                if p.source is None: p.source = self.drafter.algorithm
                out[i] = p
        return out
n_prompts = int(sys.argv[1]) if len(sys.argv) > 1 else 20
reps = int(sys.argv[2]) if len(sys.argv) > 2 else 1
target = load_target("smollm2-135m")
sps = sps_for_policies("dspark", target)
default = load_drafter("default", target)
corpus_first = CorpusFirst(load_drafter("dspark", target))
variants = {"default": default, "corpus": corpus_first}
prompts = sample_prompts(n_prompts, "gsm8k,humaneval,math500,mbpp,livecodebench")
ids = [target.encode_prompt(p) for p in prompts]
tot = {v: [0, 0.0, 0, 0] for v in list(variants) + ["plain"]}
for rep in range(reps):
    for i, x in enumerate(ids):
        r = generate(target, None, x, SamplingParams(), 128, policy="fixed")
        plain = r["token_ids"]; tot["plain"][0] += r["num_new_tokens"]; tot["plain"][1] += r["elapsed_s"]
        for v in (list(variants) if (rep + i) % 2 == 0 else list(variants)[::-1]):
            r = generate(target, variants[v], x, SamplingParams(), 128, policy="dspark", sps_table=sps)
            t = tot[v]; t[0] += r["num_new_tokens"]; t[1] += r["elapsed_s"]; t[2] += int(r["token_ids"] == plain); t[3] += r["rounds"]
    base = tot["plain"][0] / tot["plain"][1]
    print(f"after run {rep + 1} ({(rep + 1) * n_prompts} prompts each): plain {base:.1f} tok/s", flush=True)
    for v in variants:
        n, t, same, rounds = tot[v]
        print(f"  {v:8s} {n / t:6.1f} tok/s {n / t / base:.3f}x  tokens/round {n / rounds:.2f}  identical {same}/{(rep + 1) * n_prompts}", flush=True)
