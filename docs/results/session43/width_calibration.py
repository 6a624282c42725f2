"""Session 43: does a narrower block shift the DSpark drafter's calibrated confidences? Batch-1
greedy (or sampled, argv[2] the temperature) rounds with every draft verified (policy fixed), the block's first W slots drafted
(Policy.draft_width forced to W; 7 = the whole block). Per position j <= 3: the mean calibrated
prefix survival the runtime computes against how often drafts 1..j all survived, and the ECE over
10 equal-width bins."""
import sys
import torch
sys.path.insert(0, "/work/main/benchmarks")
from decode_speed import sample_prompts
from dspark import schedule
from dspark.drafters import load as load_drafter
from dspark.generate import generate
from dspark.models.loader import load_target
from dspark.sampling import SamplingParams

torch.set_num_threads(2)
target = load_target("smollm2-135m")
drafter = load_drafter("dspark", target)
n = int(sys.argv[1]) if len(sys.argv) > 1 else 30
# argv[2]: a sampling temperature (top-p 0.9, seed 0), else greedy
PARAMS = SamplingParams(temperature=float(sys.argv[2]), top_p=0.9, seed=0) if len(sys.argv) > 2 else SamplingParams()
prompts = sample_prompts(n, "gsm8k,humaneval,math500,mbpp,livecodebench,mt-bench")
ids = [target.encode_prompt(p) for p in prompts]
rows = []
real_verified = drafter.verified


def verified(seq, proposal, record):
    if proposal.confidences is not None and proposal.tokens:
        a = torch.cumprod(proposal.confidences.double().clamp(0, 1), 0).tolist()
        for j in range(min(3, len(proposal.tokens))):
            rows.append((j, a[j], float(record.accepted > j)))
    return real_verified(seq, proposal, record)


drafter.verified = verified


def ece(pairs):
    bins = [[] for _ in range(10)]
    for p, y in pairs:
        bins[min(int(p * 10), 9)].append((p, y))
    return sum(abs(sum(p for p, _ in b) - sum(y for _, y in b)) for b in bins if b) / len(pairs)


for width in (7, 3, 5):
    schedule.Policy.draft_width = lambda self, seq, w=width: w
    rows.clear()
    tokens = sum(generate(target, drafter, x, PARAMS, 128, policy="fixed")["num_new_tokens"] for x in ids)
    out = []
    for j in range(3):
        pairs = [(p, y) for k, p, y in rows if k == j]
        out.append(f"pos {j + 1}: predicted {sum(p for p, _ in pairs) / len(pairs):.3f} "
                   f"realized {sum(y for _, y in pairs) / len(pairs):.3f} ECE {100 * ece(pairs):.2f} % ({len(pairs)} rounds)")
    print(f"width {width} ({n} prompts, {tokens} tokens, T {PARAMS.temperature}):\n  " + "\n  ".join(out), flush=True)
