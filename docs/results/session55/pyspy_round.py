"""Session 55: a py-spy raw profile of pyspy_workload.py, split under Engine._decode_round.
    py-spy record -r 2000 -f raw -o spy.txt -- python docs/results/session55/pyspy_workload.py dspark
    python docs/results/session55/pyspy_round.py spy.txt 50
"""
import collections, sys
total = 0; incl = collections.Counter(); lines = collections.Counter()
for line in open(sys.argv[1]):
    stack, _, n = line.rstrip().rpartition(" "); n = int(n)
    frames = stack.split(";")
    idx = [i for i, f in enumerate(frames) if "_decode_round" in f]
    if not idx: continue
    i = idx[0]; total += n
    lines[frames[i].split("(")[-1]] += n
    seen = set()
    for f in frames[i+1:]:
        key = f.split(" (")[0]
        if key in seen: continue
        seen.add(key); incl[key] += n
print("total round samples", total)
for k, v in incl.most_common(int(sys.argv[2]) if len(sys.argv) > 2 else 40): print(f"{v/total*100:6.2f}%  {k}")
print("--- by line of _decode_round")
for k, v in sorted(lines.items(), key=lambda x: -x[1])[:25]: print(f"{v/total*100:6.2f}%  {k}")
