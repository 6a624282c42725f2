"""Session 43 (T 0.7): the policy's draft width (DSpark requests draft WIDTH_HEADROOM slots more than they
recently had verified) against the whole block, batch-1, variants interleaved per prompt in
one process. Headroom 99 = the whole block (the behaviour before). Sampled at T 0.7, top-p 0.9 (seed 0). Prints tok/s against plain,
tokens a round (outputs differ from plain: sampled)."""
import sys, time
import torch
sys.path.insert(0, "/work/main/benchmarks")
from decode_speed import sample_prompts
from dspark import schedule
from dspark.drafters import load as load_drafter
from dspark.generate import generate
from dspark.models.loader import load_target
from dspark.profile import sps_for_policies
from dspark.sampling import SamplingParams
from dspark import engine as E
DECODE = [0.0]                 # seconds in decode rounds (no prefill), per generate call
_round = E.Engine._decode_round
def _timed(self):
    t0 = time.perf_counter()
    try:
        return _round(self)
    finally:
        DECODE[0] += time.perf_counter() - t0
E.Engine._decode_round = _timed

torch.set_num_threads(2)
n_prompts = int(sys.argv[1]) if len(sys.argv) > 1 else 20
reps = int(sys.argv[2]) if len(sys.argv) > 2 else 2
target = load_target("smollm2-135m")
sps = sps_for_policies("dspark", target)
print("SPS one sequence, ms:", sps.meta["one_sequence_ms_per_step"], "measured again:", sps.meta.get("one_sequence_remeasured"))
drafters = {"dspark": load_drafter("dspark", target), "default": load_drafter("default", target)}
variants = [("dspark", 99), ("dspark", 2), ("default", 99), ("default", 2)]
PARAMS = SamplingParams(temperature=0.7, top_p=0.9, seed=0)
prompts = sample_prompts(n_prompts, "gsm8k,humaneval,math500,mbpp,livecodebench")
ids = [target.encode_prompt(p) for p in prompts]
tot = {v: [0, 0.0, 0, 0, 0.0] for v in variants + ["plain"]}
for rep in range(reps):
    for i, x in enumerate(ids):
        DECODE[0] = 0.0
        r = generate(target, None, x, PARAMS, 128, policy="fixed")
        tot["plain"][4] += DECODE[0]; tot["plain"][3] += r["num_new_tokens"] - 1
        plain = r["token_ids"]
        tot["plain"][0] += r["num_new_tokens"]; tot["plain"][1] += r["elapsed_s"]
        for v in (variants if (rep + i) % 2 == 0 else variants[::-1]):
            schedule._CostAwarePolicy.WIDTH_HEADROOM = v[1]
            DECODE[0] = 0.0
            r = generate(target, drafters[v[0]], x, PARAMS, 128, policy="dspark", sps_table=sps)
            t = tot[v]
            t[4] += DECODE[0]
            t[0] += r["num_new_tokens"]; t[1] += r["elapsed_s"]; t[2] += int(r["token_ids"] == plain); t[3] += r["rounds"]
    base = tot["plain"][0] / tot["plain"][1]
    dbase = tot["plain"][3] / tot["plain"][4]
    print(f"after run {rep + 1} ({(rep + 1) * n_prompts} prompts each): plain {base:.1f} tok/s")
    for v in variants:
        n, t, same, rounds, dec = tot[v]
        name = f"{v[0]}, {'whole block' if v[1] == 99 else f'headroom {v[1]}'}"
        print(f"  {name:24s} {n / t:6.1f} tok/s {n / t / base:.3f}x  tokens/round {n / rounds:.2f}  tokens {n}  "
              f"decode only {(n - (rep + 1) * n_prompts) / dec / dbase:.3f}x",
              flush=True)
