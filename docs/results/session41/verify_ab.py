"""The greedy verification in one argmax scan (new) against one call per request (old: b108ee2's
verify.py), toggled prompt by prompt in one process: ms per round spent in verify(), and tok/s."""
import subprocess, sys, time, types
from collections import defaultdict
import dspark, torch
sys.path.insert(0, "/work/main/benchmarks")
from decode_speed import sample_prompts
from dspark import engine as E, verify as V
from dspark.drafters import load as load_drafter
from dspark.generate import generate
from dspark.models.loader import load_target
from dspark.profile import sps_for_policies
from dspark.sampling import SamplingParams
torch.set_num_threads(2)
old_src = subprocess.run(["git", "-C", "/work/main", "show", "b108ee2:src/dspark/verify.py"], capture_output=True, text=True).stdout
old = types.ModuleType("dspark.verify_old"); old.__package__ = "dspark"; sys.modules["dspark.verify_old"] = old
exec(compile(old_src, "verify_old.py", "exec"), old.__dict__)
SPENT = defaultdict(float); CALLS = defaultdict(int)
def timed(name, fn):
    def w(*a, **k):
        t0 = time.perf_counter()
        try: return fn(*a, **k)
        finally: SPENT[name] += time.perf_counter() - t0; CALLS[name] += 1
    return w
impl = {"old": timed("old", old.verify), "new": timed("new", V.verify)}
target = load_target("smollm2-135m")
variants = [("plain", load_drafter("none", target), "fixed", None),
            ("dspark", load_drafter("dspark", target), "dspark", sps_for_policies("dspark", target))]
tot = defaultdict(lambda: [0, 0.0])
for i, p in enumerate(sample_prompts(int(sys.argv[1]) if len(sys.argv) > 1 else 12, "gsm8k,humaneval,math500,mbpp,livecodebench")):
    ids = target.encode_prompt(p)
    ref = {}
    for which in (["old", "new"] if i % 2 == 0 else ["new", "old"]):
        E.verify = impl[which]
        for name, d, pol, sps in variants:
            before = SPENT[which], CALLS[which]
            r = generate(target, d, ids, SamplingParams(), 128, policy=pol, sps_table=sps)
            key = (name, which)
            tot[key][0] += r["num_new_tokens"]; tot[key][1] += r["elapsed_s"]
            tot[key + ("v",)][0] += CALLS[which] - before[1]; tot[key + ("v",)][1] += SPENT[which] - before[0]
            ref.setdefault(name, r["token_ids"]); assert r["token_ids"] == ref[name]
for name, *_ in variants:
    o, n = tot[(name, "old")], tot[(name, "new")]
    vo, vn = tot[(name, "old", "v")], tot[(name, "new", "v")]
    print(f"{name}: tok/s old {o[0]/o[1]:.1f} new {n[0]/n[1]:.1f} ({(n[0]/n[1])/(o[0]/o[1]):.3f}x); "
          f"verify ms a round old {1e3*vo[1]/vo[0]:.3f} new {1e3*vn[1]/vn[0]:.3f}; outputs identical")
