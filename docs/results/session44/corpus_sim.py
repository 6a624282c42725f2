"""Session 44: would a lookup into the target's own regenerated answers (REST / SuffixDecoding style)
draft where context lookup finds nothing? Offline: plain greedy outputs of benchmark prompts, then
rounds simulated over them: context lookup (the default's n-gram, 2-4 tokens), corpus lookup, both."""
import gzip, json, glob, sys, time, pickle, os
import numpy as np, torch
sys.path.insert(0, "/work/main/benchmarks")
from decode_speed import sample_prompts
from dspark.generate import generate
from dspark.models.loader import load_target
from dspark.sampling import SamplingParams
torch.set_num_threads(2)
target = load_target("smollm2-135m")
tok = target.tokenizer
t0 = time.time()
cache = "/tmp/s44/corpus_tokens.npy"
if os.path.exists(cache):
    corpus = np.load(cache)
else:
    texts = []
    for store in ["smollm2-135m-24k", "smollm2-135m-extra-8k"]:
        for f in sorted(glob.glob(f"/work/main/data/regen/{store}/shard-*.jsonl.gz")):
            for line in gzip.open(f, "rt"):
                for turn in json.loads(line)["conversations"]:
                    if turn["role"] == "assistant": texts.append(turn["content"])
    print("answers", len(texts), flush=True)
    enc = tok(texts, add_special_tokens=False)["input_ids"] if callable(tok) else [tok.encode(t) for t in texts]
    parts = []
    for ids in enc: parts.append(np.asarray(ids + [-1], dtype=np.int32))
    corpus = np.concatenate(parts); np.save(cache, corpus)
print("corpus tokens", len(corpus), "in %.0f s" % (time.time() - t0), flush=True)
N = len(corpus)
SIZES = (8, 6, 4, 3)
MUL = np.uint64(1000003)
def hashes(arr, n):
    h = np.zeros(len(arr) - n + 1, dtype=np.uint64)
    a = arr.astype(np.int64).astype(np.uint64) + np.uint64(2)
    for k in range(n):
        h = h * MUL + a[k:len(arr) - n + 1 + k]
    return h
index = {}
for n in SIZES:
    h = hashes(corpus, n)
    order = np.argsort(h, kind="stable")
    index[n] = (h[order], order.astype(np.int64))
print("index built %.0f s" % (time.time() - t0), flush=True)
def hq(ctx, n):
    h = np.uint64(0)
    for t in ctx[-n:]: h = h * MUL + np.uint64(t + 2)
    return h
def corpus_lookup(ctx, gamma=7, min_count=2, share=0.5, cap=256):
    for n in SIZES:
        if len(ctx) < n: continue
        hs, pos = index[n]
        q = hq(ctx, n)
        lo, hi = np.searchsorted(hs, q, "left"), np.searchsorted(hs, q, "right")
        if hi - lo < min_count: continue
        starts = pos[lo:min(hi, lo + cap)] + n          # where the continuations start
        out = []
        alive = starts
        for k in range(gamma):
            nxt = corpus[np.minimum(alive + k, N - 1)]
            vals, counts = np.unique(nxt, return_counts=True)
            j = counts.argmax()
            if vals[j] < 0 or counts[j] < share * len(alive) or counts[j] < min_count: break
            out.append(int(vals[j])); alive = alive[nxt == vals[j]]
        return out, n
    return [], 0
def context_lookup(ctx, gamma=7, lo=2, hi=4):
    for n in range(min(hi, len(ctx) - 1), lo - 1, -1):
        pat = ctx[-n:]
        for s in range(len(ctx) - n - 1, -1, -1):
            if ctx[s:s + n] == pat:
                return ctx[s + n:s + n + gamma], n
    return [], 0
prompts = sample_prompts(int(sys.argv[1]) if len(sys.argv) > 1 else 40, "gsm8k,humaneval,math500,mbpp,livecodebench")
stats = {k: [0, 0] for k in ["context", "corpus", "context+corpus", "corpus_where_context_none"]}
extra = [0, 0, 0]   # rounds where context has none: corpus proposes, tokens accepted
for p in prompts:
    ids = target.encode_prompt(p)
    out = generate(target, None, ids, SamplingParams(), 128, policy="fixed")["token_ids"]
    for mode in ["context", "corpus", "context+corpus"]:
        i, rounds = 0, 0
        while i < len(out):
            ctx = ids + out[:i]
            d = []
            if mode in ("context", "context+corpus"): d, _ = context_lookup(ctx)
            if not d and mode in ("corpus", "context+corpus"):
                d, _ = corpus_lookup(ctx)
                if mode == "context+corpus":
                    a = 0
                    while a < len(d) and i + a < len(out) and d[a] == out[i + a]: a += 1
                    extra[0] += 1; extra[1] += bool(d); extra[2] += a
            a = 0
            while a < len(d) and i + a < len(out) and d[a] == out[i + a]: a += 1
            i += a + 1; rounds += 1
        stats[mode][0] += len(out); stats[mode][1] += rounds
for k, (n, r) in stats.items():
    if r: print(f"{k:16s} tokens/round {n / r:.3f}")
print("rounds without a context match: %d, corpus proposed in %d, accepted %d tokens (%.2f a round it proposed)" % (extra[0], extra[1], extra[2], extra[2] / max(extra[1], 1)))
print("done %.0f s" % (time.time() - t0))
