"""Session 55: the DSpark policy's observe / timed / drafted and the drafter's verified (online
calibration) stubbed out, against the full round, interleaved per prompt: what that bookkeeping costs.
"""
import sys
sys.path.insert(0, "/work/main/benchmarks")
import dspark, torch
from decode_speed import sample_prompts
from dspark.drafters import load as load_drafter
from dspark.drafters.dspark import DSparkDrafter
from dspark.generate import generate
from dspark.models.loader import load_target
from dspark.profile import sps_for_policies
from dspark.sampling import SamplingParams
import dspark.schedule as S
torch.set_num_threads(2)
target = load_target("smollm2-135m")
dr = load_drafter("dspark", target)
sps = sps_for_policies("dspark", target)
orig = {}
def stub(on):
    for cls, name, fn in [(S.DSparkPolicy, "observe", lambda self, *a: None), (S.DSparkPolicy, "timed", lambda self, *a: None),
                          (S.DSparkPolicy, "drafted", lambda self, *a: None), (DSparkDrafter, "verified", lambda self, *a: None)]:
        key = (cls, name)
        if key not in orig: orig[key] = getattr(cls, name)
        setattr(cls, name, fn if on else orig[key])
prompts = sample_prompts(10, "gsm8k,humaneval,math500,mbpp,livecodebench")
tot = {False: [0, 0.0, 0], True: [0, 0.0, 0]}
for i, p in enumerate(prompts):
    ids = target.encode_prompt(p)
    for on in ((False, True) if i % 2 == 0 else (True, False)):
        stub(on)
        r = generate(target, dr, ids, SamplingParams(), 128, policy="dspark", sps_table=sps)
        t = tot[on]; t[0] += r["num_new_tokens"] - 1; t[1] += r["elapsed_s"] - r["first_token_s"]
for on, (n, s, _) in tot.items(): print("stubbed" if on else "full", f"{n/s:.1f} tok/s decoding")
