"""Session 41: where DSpark's drafting round goes (the timed build of make_timed.py; 8 prompts x 128 tokens)."""
import ctypes, subprocess, statistics, sys, time
import dspark, torch
sys.path.insert(0, "/work/main/benchmarks")
from decode_speed import sample_prompts
from dspark.models import packed, runtime
from dspark.drafters import load as load_drafter
from dspark.generate import generate
from dspark.models.loader import load_target
from dspark.profile import sps_for_policies
from dspark.sampling import SamplingParams
torch.set_num_threads(2)
subprocess.run(["gcc", *packed.CFLAGS["qkernels"], "/tmp/s41/qk_timed2.c", "-o", "/tmp/s41/qk_timed2.so", "-lm"], check=True, capture_output=True)
dll = ctypes.CDLL("/tmp/s41/qk_timed2.so")
runtime._LIB = runtime._Lib(dll)
dll.rt_timers.argtypes = [ctypes.c_void_p]
buf = (ctypes.c_double * 8)()
target = load_target("smollm2-135m")
d = load_drafter("dspark", target); sps = sps_for_policies("dspark", target)
rounds = [0]
from dspark import engine as E
orig = E.Engine._decode_round
def cnt(self): rounds[0] += 1; return orig(self)
E.Engine._decode_round = cnt
ids = [target.encode_prompt(p) for p in sample_prompts(8, "gsm8k,humaneval,math500,mbpp,livecodebench")]
generate(target, d, ids[0], SamplingParams(), 16, policy="dspark", sps_table=sps)
dll.rt_timers(buf); rounds[0] = 0
for i in ids: generate(target, d, i, SamplingParams(), 128, policy="dspark", sps_table=sps)
dll.rt_timers(buf)
v = list(buf)
print(f"{rounds[0]} rounds; ms per round: context {1e3*v[6]/rounds[0]:.3f}, block layers {1e3*v[7]/rounds[0]:.3f}, norm+head {1e3*v[5]/rounds[0]:.3f}, markov+conf {1e3*v[4]/rounds[0]:.3f}")
