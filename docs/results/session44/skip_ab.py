"""Session 44: the dspark policy's pause stretches (MAX_SKIP) at concurrency C on ShareGPT, the
default drafter, in-process, variants interleaved per repeat (serving_phases.run)."""
import sys, statistics
sys.path.insert(0, "/work/main/benchmarks")
import serving_phases as SP
from dspark import schedule
from dspark.bench import load_sharegpt
from dspark.drafters import load as load_drafter
from dspark.drafters.base import Drafter
from dspark.models.loader import load_target
from dspark.profile import sps_table_for
conc = int(sys.argv[1]) if len(sys.argv) > 1 else 1
nreq = int(sys.argv[2]) if len(sys.argv) > 2 else 48
reps = int(sys.argv[3]) if len(sys.argv) > 3 else 2
skips = [int(x) for x in (sys.argv[4] if len(sys.argv) > 4 else "64,8,2").split(",")]
target = load_target("smollm2-135m")
drafter = load_drafter("default", target)
sps = sps_table_for(target)
requests = load_sharegpt(lambda t: target.encode_prompt(t, None), target.tokenizer, nreq, 512, 96)
speed = {k: [] for k in ["none"] + skips}
for rep in range(reps):
    order = ["none"] + skips if rep % 2 == 0 else skips[::-1] + ["none"]
    for v in order:
        if v == "none":
            r = SP.run(target, Drafter(), "none", requests, conc, sps)
        else:
            schedule._CostAwarePolicy.MAX_SKIP = v
            r = SP.run(target, drafter, "dspark", requests, conc, sps)
        speed[v].append(r["tok/s"])
        extra = "" if v == "none" else f" drafted {r['drafted request-rounds']}/{r['request-rounds']} verified {r['verified']} accepted {r['accepted']}"
        print(f"rep {rep} {str(v):5s} {r['tok/s']:6.1f} tok/s{extra}", flush=True)
base = statistics.mean(speed["none"])
for v, s in speed.items():
    print(f"{str(v):5s} mean {statistics.mean(s):6.1f} tok/s {statistics.mean(s) / base:.3f}x none  runs {s}")
