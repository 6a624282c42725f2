"""Session 39: plain decoding in the exact precision (torch attention over the fp32 KVCache) after 200- and
1,800-token prompts; run for two versions in turn (one on PYTHONPATH) and alternate.

    python docs/results/session39/exact_long.py LABEL
"""
import sys, time
import dspark, torch
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[3] / "benchmarks"))
from decode_speed import sample_prompts
from dspark.drafters import load as load_drafter
from dspark.engine import make_engine
from dspark.models.loader import load_target
from dspark.sampling import SamplingParams
torch.set_num_threads(2)
target = load_target("smollm2-135m", precision="exact")
pool = sample_prompts(20, "humaneval,mbpp,livecodebench")
d = load_drafter("none", target)
for ctx in (200, 1800):
    ids = target.encode_prompt("\n\n".join(pool[:10]) + "\n\nSolve the last task.")[-ctx:]
    eng = make_engine(target, d, tokens=len(ids) + 70, policy="fixed")
    seq = eng.add_request(ids, SamplingParams(), 64)
    while not seq.output_ids: eng.step()
    t1 = time.perf_counter(); n0 = len(seq.output_ids)
    while eng.has_work: eng.step()
    print(sys.argv[1], "exact ctx", ctx, f"{(len(seq.output_ids) - n0) / (time.perf_counter() - t1):.1f} tok/s")
