"""Session 39: decode speed after the first token at long contexts (code prompts cut to their last
200 / 1,000 / 1,800 tokens), plain and the default drafter, 3 prompts x 128 tokens each. Run it for
two versions in turn (one on PYTHONPATH from a git worktree) and alternate:

    python docs/results/session39/longctx.py LABEL
"""
import sys, json, time
import dspark, torch
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[3] / "benchmarks"))
from decode_speed import sample_prompts
from dspark.drafters import load as load_drafter
from dspark.engine import make_engine
from dspark.models.loader import load_target
from dspark.profile import sps_for_policies
from dspark.sampling import SamplingParams
torch.set_num_threads(2)
target = load_target("smollm2-135m")
pool = sample_prompts(40, "humaneval,mbpp,livecodebench")
variants = [("none", "fixed"), ("default", "dspark")]
ds = {v: (load_drafter(v[0], target), sps_for_policies(v[1], target)) for v in variants}
res = {}
for ctx in (200, 1000, 1800):
    for k in range(3):
        body = "\n\n".join(pool[k * 10:(k + 1) * 10])
        ids = target.encode_prompt(body + "\n\nSolve the last task.")[-ctx:]
        for v in variants:
            d, sps = ds[v]
            eng = make_engine(target, d, tokens=len(ids) + 130, policy=v[1], sps_table=sps)
            seq = eng.add_request(ids, SamplingParams(), 128)
            t0 = time.perf_counter()
            while not seq.output_ids: eng.step()
            t1 = time.perf_counter(); n0 = len(seq.output_ids)
            while eng.has_work: eng.step()
            t2 = time.perf_counter()
            r = res.setdefault((ctx, v[0]), [0, 0.0, 0.0, []])
            r[0] += len(seq.output_ids) - n0; r[1] += t2 - t1; r[2] += t1 - t0; r[3].append(seq.output_ids)
for ctx in (200, 1000, 1800):
    a, b = res[ctx, "none"], res[ctx, "default"]
    print(f"{sys.argv[1]} ctx {ctx}: prefill {a[2]/3*1e3:.0f} ms, decode none {a[0]/a[1]:.1f} tok/s, default {b[0]/b[1]:.1f} tok/s "
          f"({b[0]/b[1]/(a[0]/a[1]):.2f}x), identical {sum(x == y for x, y in zip(a[3], b[3]))}/3")
