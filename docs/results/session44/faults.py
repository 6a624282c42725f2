"""Session 44: minor page faults per decoding round, batch-1 greedy, 8 prompts x 128 tokens."""
import resource, sys
import torch
sys.path.insert(0, "/work/main/benchmarks")
from decode_speed import sample_prompts
import dspark
from dspark.drafters import load as load_drafter
from dspark.generate import generate
from dspark.models.loader import load_target
from dspark.profile import sps_for_policies
from dspark.sampling import SamplingParams
torch.set_num_threads(2)
target = load_target("smollm2-135m")
sps = sps_for_policies("dspark", target)
out = []
for name, d, pol in [("plain", None, "fixed"), ("dspark", load_drafter("dspark", target), "dspark"), ("default", load_drafter("default", target), "dspark")]:
    ids = [target.encode_prompt(p) for p in sample_prompts(8, "gsm8k,humaneval,math500,mbpp,livecodebench")]
    generate(target, d, ids[0], SamplingParams(), 16, policy=pol, sps_table=sps)
    f0, rounds = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, 0
    for x in ids:
        rounds += generate(target, d, x, SamplingParams(float(__import__("os").environ.get("T", "0")), 0.9, 0, 1), 128, policy=pol, sps_table=sps)["rounds"]
    out.append(f"{name} {(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / rounds:.1f} faults/round")
print(dspark.__file__, " | ".join(out))
