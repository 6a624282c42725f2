"""Session 47: tau_walk and tau_greedy (teacher-forced on greedy answers to Table 1's prompts, walk/*.json)
against Table 1's decoded tau at T = 0 (table1-t0-pilot.json), per set and drafter."""
import json
from pathlib import Path

here = Path(__file__).parent
real = json.loads((here / "table1-t0-pilot.json").read_text())["drafters"]
sets = "gsm8k math500 humaneval mbpp livecodebench mt-bench".split()
for cfg in ("dspark1f-smollm2-135m-32k", "dspark1k-smollm2-135m-t0", "dspark1k-ctl-smollm2-135m-t07"):
    print(f"| {cfg} | decoded (rounds) | tau_walk (rounds) | tau_greedy |")
    print("|---|---|---|---|")
    m = [0.0, 0.0, 0.0]
    for s in sets:
        r = json.loads((here / "walk" / f"score-{cfg}-{s}.json").read_text().strip().splitlines()[-1])
        d = real[cfg]["datasets"][s]
        print(f"| {s} | {d['tau']:.3f} ({d['rounds']}) | {r['tau_walk']:.3f} ({r['walk_rounds']}) | {r['tau_greedy']:.3f} |")
        for i, v in enumerate((d["tau"], r["tau_walk"], r["tau_greedy"])):
            m[i] += v / len(sets)
    print(f"| macro | {m[0]:.3f} | {m[1]:.3f} | {m[2]:.3f} |\n")
