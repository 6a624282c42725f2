"""Session 44: what a step of b rows costs inside the engine (Policy.timed: the step besides drafting),
DSpark alone and plain, batch-1 greedy, 12 prompts; and the same forwards timed alone."""
import sys, statistics, time
import torch
sys.path.insert(0, "/work/main/benchmarks")
from decode_speed import sample_prompts
from dspark import schedule, engine as E
from dspark.drafters import load as load_drafter
from dspark.generate import generate
from dspark.models.loader import load_target
from dspark.profile import profile_sps, label
from dspark.sampling import SamplingParams
torch.set_num_threads(2)
target = load_target("smollm2-135m")
fresh = profile_sps(target.model); label(fresh, target)
print("fresh one sequence ms:", fresh.meta["one_sequence_ms_per_step"][:6])
rec = {}
orig = schedule.Policy.timed
def timed(self, tokens, sequences, seconds):
    rec.setdefault((self.name, tokens), []).append(seconds * 1e3)
    return orig(self, tokens, sequences, seconds)
for c in [schedule.Policy] + [c for c in vars(schedule).values() if isinstance(c, type) and issubclass(c, schedule.Policy)]:
    if "timed" in vars(c): 
        o = vars(c)["timed"]
        def mk(o):
            def t(self, tokens, sequences, seconds):
                rec.setdefault((self.name, tokens), []).append(seconds * 1e3)
                return o(self, tokens, sequences, seconds)
            return t
        setattr(c, "timed", mk(o))
# the forward alone, inside the engine's rounds
fwd = {}
M = type(target.model)
of = M.forward
def forward(self, batch, cache, *a, **k):
    t0 = time.perf_counter(); out = of(self, batch, cache, *a, **k)
    fwd.setdefault((tag[0], batch.tokens.shape[0]), []).append((time.perf_counter() - t0) * 1e3)
    return out
M.forward = forward
tag = ["?"]
d = load_drafter("dspark", target)
prompts = sample_prompts(12, "gsm8k,humaneval,math500,mbpp,livecodebench")
ids = [target.encode_prompt(p) for p in prompts]
for x in ids:
    tag[0] = "plain"; generate(target, None, x, SamplingParams(), 128, policy="fixed")
    tag[0] = "dspark"; generate(target, d, x, SamplingParams(), 128, policy="dspark", sps_table=fresh)
for k in sorted(rec):
    v = rec[k]
    if len(v) >= 10: print("timed", k, "n", len(v), "median %.2f" % statistics.median(v))
for k in sorted(fwd):
    v = fwd[k]
    if len(v) >= 10 and k[1] < 20: print("forward", k, "n", len(v), "median %.2f" % statistics.median(v))
