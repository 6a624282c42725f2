"""Session 44: the SPS table the policy starts from: one profiled in a slow spell (CI's, in
~/.cache) against one profiled now, batch-1 greedy, variants interleaved per prompt in one process."""
import sys, json
import torch
sys.path.insert(0, "/work/main/benchmarks")
from decode_speed import sample_prompts
from dspark.drafters import load as load_drafter
from dspark.generate import generate
from dspark.models.loader import load_target
from dspark.profile import profile_sps, label
from dspark.schedule import SPSTable
from dspark.sampling import SamplingParams

torch.set_num_threads(2)
n_prompts = int(sys.argv[1]) if len(sys.argv) > 1 else 20
reps = int(sys.argv[2]) if len(sys.argv) > 2 else 1
target = load_target("smollm2-135m")
tables = {"slow": SPSTable.load("/tmp/s44/sps_ci.json")}
fresh = profile_sps(target.model); label(fresh, target); tables["fresh"] = fresh
for k, t in tables.items():
    print(k, "one sequence ms:", t.meta["one_sequence_ms_per_step"][:6], "batch ms:", t.meta["ms_per_step"][:6])
drafters = {"dspark": load_drafter("dspark", target), "default": load_drafter("default", target)}
variants = [(d, t) for d in drafters for t in tables]
prompts = sample_prompts(n_prompts, "gsm8k,humaneval,math500,mbpp,livecodebench")
ids = [target.encode_prompt(p) for p in prompts]
tot = {v: [0, 0.0, 0, 0] for v in variants + ["plain"]}
for rep in range(reps):
    for i, x in enumerate(ids):
        r = generate(target, None, x, SamplingParams(), 128, policy="fixed")
        plain = r["token_ids"]
        tot["plain"][0] += r["num_new_tokens"]; tot["plain"][1] += r["elapsed_s"]
        for v in (variants if (rep + i) % 2 == 0 else variants[::-1]):
            r = generate(target, drafters[v[0]], x, SamplingParams(), 128, policy="dspark", sps_table=tables[v[1]])
            t = tot[v]
            t[0] += r["num_new_tokens"]; t[1] += r["elapsed_s"]; t[2] += int(r["token_ids"] == plain); t[3] += r["rounds"]
    base = tot["plain"][0] / tot["plain"][1]
    print(f"after run {rep + 1} ({(rep + 1) * n_prompts} prompts each): plain {base:.1f} tok/s")
    for v in variants:
        n, t, same, rounds = tot[v]
        print(f"  {v[0]:8s} {v[1]:6s} table {n / t:6.1f} tok/s {n / t / base:.3f}x  tokens/round {n / rounds:.2f}  identical {same}/{(rep + 1) * n_prompts}", flush=True)
