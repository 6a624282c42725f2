"""Session 43: median time of one rt_draft_round call at blocks of 7 / 5 / 3 slots (make_narrow_checkpoints.py),
batch-1 greedy rounds of 8 math and code prompts, the three drafters interleaved."""
import sys, time, torch, statistics
sys.path.insert(0, "/work/main/benchmarks")
from decode_speed import sample_prompts
from dspark.drafters import load as load_drafter
from dspark.generate import generate
from dspark.models.loader import load_target
from dspark.profile import sps_for_policies
from dspark.sampling import SamplingParams
from dspark.models import runtime
torch.set_num_threads(2)
target = load_target("smollm2-135m")
sps = sps_for_policies("dspark", target)
ds = {7: load_drafter("dspark", target), 3: load_drafter("/tmp/s43/ck3", target), 5: load_drafter("/tmp/s43/ck5", target)}
T = {}
rt = runtime.lib(); orig = rt.draft_round
cur = [None]
def timed(*a):
    t0 = time.perf_counter(); r = orig(*a); T.setdefault(cur[0], []).append(time.perf_counter() - t0); return r
rt.draft_round = timed
prompts = sample_prompts(8, "gsm8k,humaneval,math500,mbpp,livecodebench")
for rep in range(2):
    for p in prompts:
        x = target.encode_prompt(p)
        for g in ds:
            cur[0] = g
            generate(target, ds[g], x, SamplingParams(), 96, policy="dspark", sps_table=sps)
for g, v in T.items():
    print(g, "C draft_round median ms", round(1e3 * statistics.median(v), 3), "mean", round(1e3 * statistics.mean(v), 3), len(v))
