"""Session 43: the shipped DSpark drafter with its block cut to 3 / 4 slots (make_narrow_checkpoints.py)
against its whole block of 7, alone and behind n-gram lookup, batch-1 greedy, interleaved per prompt."""
import sys, time, torch
sys.path.insert(0, "/work/main/benchmarks")
from decode_speed import sample_prompts
from dspark.drafters import load as load_drafter
from dspark.generate import generate
from dspark.models.loader import load_target
from dspark.profile import sps_for_policies
from dspark.sampling import SamplingParams
torch.set_num_threads(2)
target = load_target("smollm2-135m")
sps = sps_for_policies("dspark", target)
ds = {"d7": load_drafter("dspark", target), "d3": load_drafter("/tmp/s43/ck3", target), "d4": load_drafter("/tmp/s43/ck4", target)}
from dspark.drafters.ngram import LookupFirst
ds["n7"] = LookupFirst(load_drafter("dspark", target))
ds["n4"] = LookupFirst(load_drafter("/tmp/s43/ck4", target))
names = list(ds)
prompts = sample_prompts(20, "gsm8k,humaneval,math500,mbpp,livecodebench")
ids = [target.encode_prompt(p) for p in prompts]
tot = {g: [0, 0.0, 0, 0] for g in names + ["plain"]}
for rep in range(2):
  for i, x in enumerate(ids):
    r = generate(target, None, x, SamplingParams(), 128, policy="fixed")
    plain = r["token_ids"]
    tot["plain"][0] += r["num_new_tokens"]; tot["plain"][1] += r["elapsed_s"]
    for g in (names if (rep + i) % 2 == 0 else names[::-1]):
        r = generate(target, ds[g], x, SamplingParams(), 128, policy="dspark", sps_table=sps)
        tot[g][0] += r["num_new_tokens"]; tot[g][1] += r["elapsed_s"]; tot[g][2] += int(r["token_ids"] == plain); tot[g][3] += r["rounds"]
  for g in ["plain"] + names:
    n, t, same, rounds = tot[g]
    print(rep, g, f"{n/t:.1f} tok/s", f"{(n/t)/(tot['plain'][0]/tot['plain'][1]):.3f}x", "same", same, f"tok/round {n/max(rounds,1):.2f}", flush=True)
