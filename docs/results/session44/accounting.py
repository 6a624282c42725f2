"""Session 44: where a batch-1 generate's elapsed time goes, plain against DSpark alone and the default."""
import sys, statistics, time, collections
import torch
sys.path.insert(0, "/work/main/benchmarks")
from decode_speed import sample_prompts
from dspark import engine as E
from dspark.drafters import load as load_drafter
from dspark.generate import generate
from dspark.models.loader import load_target
from dspark.profile import sps_for_policies
from dspark.sampling import SamplingParams
torch.set_num_threads(2)
target = load_target("smollm2-135m")
sps = sps_for_policies("dspark", target)
acc = collections.defaultdict(float); cnt = collections.defaultdict(int)
tag = ["?"]
def wrap(obj, name, key):
    o = getattr(obj, name)
    def w(*a, **k):
        t0 = time.perf_counter(); r = o(*a, **k); acc[(tag[0], key)] += time.perf_counter() - t0; cnt[(tag[0], key)] += 1; return r
    setattr(obj, name, w)
wrap(E.Engine, "_prefill", "prefill")
wrap(E.Engine, "_decode_round", "rounds")
drafters = {"dspark": load_drafter("dspark", target), "default": load_drafter("default", target)}
for d in drafters.values():
    for obj in [type(d)] + ([type(x) for x in getattr(d, "drafters", [])] if hasattr(d, "drafters") else []):
        pass
import dspark.drafters.dflash as DF, dspark.drafters.ngram as NG
wrap(DF.DFlashDrafter, "propose", "propose")
wrap(DF.DFlashDrafter, "observe", "observe")
prompts = sample_prompts(12, "gsm8k,humaneval,math500,mbpp,livecodebench")
ids = [target.encode_prompt(p) for p in prompts]
for x in ids:
    for v in ["plain", "dspark", "default"]:
        tag[0] = v
        r = generate(target, None if v == "plain" else drafters[v], x, SamplingParams(), 128,
                     policy="fixed" if v == "plain" else "dspark", sps_table=sps)
        acc[(v, "elapsed")] += r["elapsed_s"]; acc[(v, "tokens")] += r["num_new_tokens"]; acc[(v, "nrounds")] += r["rounds"]
for v in ["plain", "dspark", "default"]:
    n = acc[(v, "tokens")]
    print(v, "tok/s %.1f" % (n / acc[(v, "elapsed")]), "rounds", int(acc[(v, "nrounds")]),
          " ".join("%s %.1f ms/prompt" % (k, 1e3 * acc[(v, k)] / len(ids)) for k in ["elapsed", "prefill", "rounds", "propose", "observe"]),
          "first-call?", cnt[(v, "propose")])
