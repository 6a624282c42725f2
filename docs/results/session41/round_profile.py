"""Session 41: ms per round of batch-1 decoding (8 prompts x 128 tokens), by part, inclusive timers
(the C calls, the engine's steps, the policy, the drafter)."""
import sys, time, statistics
from collections import defaultdict
import dspark, torch
sys.path.insert(0, "/work/main/benchmarks")
from decode_speed import sample_prompts
from dspark import engine as E, batch as B
from dspark.models import runtime, decoder
from dspark.drafters import load as load_drafter
from dspark.generate import generate
from dspark.models.loader import load_target
from dspark.profile import sps_for_policies
from dspark.sampling import SamplingParams

torch.set_num_threads(2)
SPENT = defaultdict(float); CALLS = defaultdict(int)
IN = [False]
def timed(cat, fn):
    def w(*a, **k):
        t0 = time.perf_counter()
        top = cat == "round"
        if top: IN[0] = True
        try: return fn(*a, **k)
        finally:
            if top: IN[0] = False
            c = cat if IN[0] or top else "pre:" + cat
            SPENT[c] += time.perf_counter() - t0; CALLS[c] += 1
    return w
ROWS = defaultdict(int)
rt = runtime.lib()
for name in ["forward", "qmatmul", "draft_round", "markov_greedy", "argmax"]:
    setattr(rt, name, timed("C." + name, getattr(rt, name)))
E.Engine._decode_round = timed("round", E.Engine._decode_round)
E.Engine._prefill = timed("prefill", E.Engine._prefill)
E.Engine._commit_tokens = timed("commit", E.Engine._commit_tokens)
_b = timed("FlatBatch.build", B.FlatBatch.build.__func__)
def _bb(cls, seqs, *a, **k):
    if IN[0]: ROWS["rows"] += sum(len(t) for _, _, t in seqs)
    return _b(cls, seqs, *a, **k)
E.FlatBatch.build = classmethod(_bb)
E.verify = timed("verify", E.verify)
decoder.TargetModel.forward = timed("model.forward", decoder.TargetModel.forward)


from dspark import schedule as SCH, stats as ST
from dspark.drafters import dflash as DF, dspark as DS
for cls in [c for c in vars(SCH).values() if isinstance(c, type) and issubclass(c, SCH.Policy)]:
    for m in ["drafts_for", "draft_stop", "choose", "drafted", "observe", "timed"]:
        if m in vars(cls):
            setattr(cls, m, timed("policy." + m, vars(cls)[m]))
DF.DFlashDrafter._draft_pass = timed("d._draft_pass", DF.DFlashDrafter._draft_pass)
DF.DFlashDrafter._round_in_c = timed("d._round_in_c", DF.DFlashDrafter._round_in_c)
runtime.DraftForward.round = timed("d.rt_round_py", runtime.DraftForward.round)
DS.DSparkDrafter._sample = timed("d._sample", DS.DSparkDrafter._sample)
ST.RoundTotals.add = timed("stats.add", ST.RoundTotals.add)
E.RoundRecord = timed("RoundRecord", E.RoundRecord)
target = load_target("smollm2-135m")
variants = {"plain": ("none", "fixed"), "dspark": ("dspark", "dspark"), "default": ("default", "dspark")}
objs = {}
for k, (spec, pol) in variants.items():
    d = load_drafter(spec, target)
    for m in ["propose", "observe", "verified"]:
        if hasattr(d, m):
            setattr(d, m, timed("drafter." + m, getattr(d, m)))
    objs[k] = (d, pol, sps_for_policies(pol, target))
prompts = sample_prompts(int(sys.argv[1]) if len(sys.argv) > 1 else 8, "gsm8k,humaneval,math500,mbpp,livecodebench")
res = {k: defaultdict(float) for k in variants}
rounds = defaultdict(int); toks = defaultdict(int); secs = defaultdict(float)
for p in prompts:
    ids = target.encode_prompt(p)
    for k, (d, pol, sps) in objs.items():
        SPENT.clear(); CALLS.clear(); ROWS.clear()
        r = generate(target, d, ids, SamplingParams(), 128, policy=pol, sps_table=sps)
        for c, v in SPENT.items(): res[k][c] += v
        rounds[k] += CALLS["round"]; res[k]["ROWS"] += ROWS["rows"] / 1e3; toks[k] += r["num_new_tokens"]; secs[k] += r["elapsed_s"]
cats = sorted({c for v in res.values() for c in v})
print("ms per round | " + " | ".join(variants))
print("tok/s | " + " | ".join(f"{toks[k]/secs[k]:.1f}" for k in variants))
print("tokens/round | " + " | ".join(f"{toks[k]/rounds[k]:.2f}" for k in variants))
for c in cats:
    print(f"{c} | " + " | ".join(f"{1e3*res[k][c]/rounds[k]:.3f}" for k in variants))
