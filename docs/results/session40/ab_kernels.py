"""Session 40: builds of qkernels.c compared in ONE process, prompt by prompt (the Python side is
the working tree's; only the C kernels differ). Each source is compiled with the runtime's flags and
swapped in as runtime._LIB before each generate call; the order rotates every prompt.

    python docs/results/session40/ab_kernels.py A.c B.c [C.c ...] [PROMPTS] [DRAFTER@POLICY ...]

Prints tok/s per build and variant, the ratio to plain of the same build, the ratio to the first
build, and how many outputs equal the first variant's (plain) for every build.
"""
import ctypes
import subprocess
import sys
from pathlib import Path

import dspark  # noqa: F401  (before torch: sets GOMP_SPINCOUNT)
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
from decode_speed import sample_prompts  # noqa: E402
from dspark.drafters import load as load_drafter  # noqa: E402
from dspark.generate import generate  # noqa: E402
from dspark.models import packed, runtime  # noqa: E402
from dspark.models.loader import load_target  # noqa: E402
from dspark.profile import sps_for_policies  # noqa: E402
from dspark.sampling import SamplingParams  # noqa: E402

torch.set_num_threads(2)
srcs = [a for a in sys.argv[1:] if a.endswith(".c")]
rest = [a for a in sys.argv[1:] if not a.endswith(".c")]
nprompts = int(rest[0]) if rest else 12
specs = rest[1:] or ["none@fixed", "dspark@dspark", "default@dspark"]
libs = []
for i, src in enumerate(srcs):
    so = f"/tmp/ab_kernels_{i}.so"
    subprocess.run(["gcc", *packed.CFLAGS["qkernels"], src, "-o", so, "-lm"], check=True, capture_output=True)
    libs.append(runtime._Lib(ctypes.CDLL(so)))
target = load_target("smollm2-135m")
runtime._LIB = libs[0]
variants = []
for spec in specs:
    path, _, policy = spec.partition("@")
    variants.append((spec, load_drafter(path, target), policy, sps_for_policies(policy, target)))
prompts = [target.encode_prompt(p) for p in sample_prompts(nprompts, "gsm8k,humaneval,math500,mbpp,livecodebench")]
K = len(libs)
tot = {(s, k): [0, 0.0] for s, *_ in variants for k in range(K)}
same = {key: 0 for key in tot}
for i, ids in enumerate(prompts):
    ref = None
    for k in [(i + j) % K for j in range(K)]:
        runtime._LIB = libs[k]
        for spec, drafter, policy, sps in variants:
            r = generate(target, drafter, ids, SamplingParams(), 128, policy=policy, sps_table=sps)
            tot[(spec, k)][0] += r["num_new_tokens"]
            tot[(spec, k)][1] += r["elapsed_s"]
            ref = ref or r["token_ids"]
            same[(spec, k)] += r["token_ids"] == ref
    print(f"prompt {i + 1}/{len(prompts)}", file=sys.stderr)
plain = {k: tot[(specs[0], k)][0] / tot[(specs[0], k)][1] for k in range(K)}
for spec, *_ in variants:
    r = [tot[(spec, k)][0] / tot[(spec, k)][1] for k in range(K)]
    print(f"{spec:18s} " + "  ".join(f"{Path(srcs[k]).name} {r[k]:6.1f} (x{r[k] / plain[k]:.2f} plain, "
                                     f"{r[k] / r[0]:.3f} first)" for k in range(K))
          + "  same as plain " + "/".join(str(same[(spec, k)]) for k in range(K)))
