"""Session 53: sts-bias against sts-beta, each fitted on the calibration step's rounds of the shipped
DSpark-1p (chain.sh) and scored with no fit on the ece step's rounds (none in a fit), the online
correction replayed. From the repository root:
    python docs/results/session53/compare_fits.py T KIND [HOLDOUT]
T: 0 or 1; KIND: alone or lookup; HOLDOUT: the fit's held-out share (default 0.5; the table used 0)."""
import glob, sys, time
from deepspec.eval.metrics import load_records
from deepspec.eval.calibration import calibrate, confidence_report
SHIP = "dspark1p-smollm2-135m-writing"
t = sys.argv[1]            # "1" or "0"
kind = sys.argv[2]         # "lookup" or "alone"
hold = float(sys.argv[3]) if len(sys.argv) > 3 else 0.5
fitdir = f"runs/calibration-lookup-{SHIP}-t{t}/rounds/ngram+{SHIP}" if kind == "lookup" else f"runs/calibration-{SHIP}-t{t}/rounds/{SHIP}"
fit = load_records(sorted(glob.glob(fitdir + "/*.jsonl")))
names = ["default", f"ngram+{SHIP}"] if kind == "lookup" else [SHIP, "dspark-smollm2-135m"]
score_files = [f for n in names for f in sorted(glob.glob(f"runs/ece-extra-{SHIP}/t{t}/rounds/{n}/*.jsonl"))]
score = load_records(score_files)
print(len(fit), "fit rounds;", len(score), "score rounds from", len(score_files), "files")
for method in ("sts-bias", "sts-beta"):
    t0 = time.time()
    r = calibrate(fit, holdout_fraction=hold, method=method)
    rep = confidence_report(score, r["temperatures"], biases=r["biases"], online_rate=r["online_rate"],
                            curvatures=r.get("curvatures"))
    fixed = confidence_report(score, r["temperatures"], biases=r["biases"], curvatures=r.get("curvatures"))
    f = lambda xs: " ".join("-" if x is None else f"{100*x:.2f}" for x in xs)
    print(f"{method} ({time.time()-t0:.0f}s) rate {r['online_rate']}: T {[round(x,3) for x in r['temperatures']]} "
          f"b {[round(x,3) for x in r['biases']]} e {[round(x,3) for x in r.get('curvatures', [])]}")
    print("  ece  ", f(rep["ece"]), " max", f"{100*max(x for x in rep['ece'] if x is not None):.2f}")
    print("  fixed", f(fixed["ece"]))
    print("  floor", f(rep["ece_floor"]))
