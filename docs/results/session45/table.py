import json, sys, glob
files = sys.argv[1:]
rows = {}
for f in files:
    d = json.load(open(f))
    for name, r in d["drafters"].items():
        ds = r["datasets"]
        taus = {k: v["tau"] for k, v in ds.items()}
        macro = sum(taus.values()) / len(taus)
        rows.setdefault(name, []).append((f.split("/")[-1], macro, taus))
for name, lst in rows.items():
    for f, m, t in lst:
        print(f"{name:34s} {f:28s} macro {m:.3f} " + " ".join(f"{k}:{v:.2f}" for k, v in t.items()))
    if len(lst) > 1:
        print(f"{name:34s} mean macro {sum(m for _, m, _ in lst)/len(lst):.3f}")
