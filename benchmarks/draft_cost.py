"""What one drafting round costs next to one target verify step (a script, not a test).

Target: a SmolLM2-135M-shaped Llama with random weights (vocab 49152, hidden 576, 30 layers, 9 / 3
heads, head_dim 64, MLP 1536); fp32; torch.set_num_threads(2). Each drafter has seen `--context`
committed tokens; one round = observe(the 4 tokens the last verify committed) + propose(gamma
drafts). Rows of all drafters are interleaved repeat by repeat and reported as medians with the
25-75 % spread (these machines are noisy: compare ratios, not absolute times).

    python benchmarks/draft_cost.py [--repeats 30] [--context 256] [--batch 1] [--temperatures 0,1]
                                    [--variants] [--target smollm2-135m [--layers 2]]

--target runs on the real target on the fast runtime instead (its taps, its verify step), with each
drafter shaped like the committed SmolLM2 ones (rank-64 Markov head, 8,192-token draft vocabulary)
and random weights, twice: as load_drafter runs it (8-bit products, the round in C:
runtime.DraftForward) and with the round in torch ("torch round": the same 8-bit products).

Add a drafter by adding a builder to BUILDERS (name -> function(target) -> drafter); any object
with the Drafter protocol (start / observe / propose, tap_layers, gamma) works.
"""
from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch

from dspark.batch import FlatBatch
from dspark.drafters.dflash import DFlashConfig, DFlashDrafter
from dspark.drafters.dspark import DSparkConfig, DSparkDrafter
from dspark.models.config import ModelConfig, RopeConfig
from dspark.models.decoder import TargetModel
from dspark.models.runtime import step_threads
from dspark.sampling import SamplingParams
from dspark.sequence import Sequence

OBSERVED = 4          # tokens committed by the previous round (observe() input)
VERIFY_TOKENS = 8     # anchor + 7 drafts


def smollm2_shaped() -> ModelConfig:
    return ModelConfig(arch="llama", vocab_size=49152, hidden_size=576, intermediate_size=1536,
                       num_layers=30, num_heads=9, num_kv_heads=3, head_dim=64, rms_norm_eps=1e-5,
                       rope=RopeConfig(theta=100000.0), tie_word_embeddings=True)


BUILDERS = {
    "dflash": lambda t: DFlashDrafter.build(DFlashConfig(block_size=7, num_layers=1), t),
    "dspark": lambda t: DSparkDrafter.build(DSparkConfig(block_size=7, num_layers=1), t),
}
VARIANTS = {   # --variants (block 7 as above): what the sequential head's cost depends on
    "dspark-gated": lambda t: DSparkDrafter.build(DSparkConfig(num_layers=1, markov_head_type="gated"), t),
    "dspark-rnn": lambda t: DSparkDrafter.build(DSparkConfig(num_layers=1, markov_head_type="rnn"), t),
    "dspark-r64": lambda t: DSparkDrafter.build(DSparkConfig(num_layers=1, markov_rank=64), t),
    "dflash-v16k": lambda t: DFlashDrafter.build(DFlashConfig(num_layers=1, draft_vocab_size=16384), t),
    "dspark-v16k": lambda t: DSparkDrafter.build(DSparkConfig(num_layers=1, draft_vocab_size=16384), t),
}


def real_target_drafters(target, layers: int) -> dict:
    """--target: each drafter twice, with the C round and with the torch round, same weights."""
    from dspark.drafters.checkpoint import run_on_fast_runtime
    shape = dict(block_size=7, num_layers=layers, draft_vocab_size=8192, mask_token_id=16)
    configs = {"dflash": (DFlashDrafter, DFlashConfig(**shape)),
               "dspark": (DSparkDrafter, DSparkConfig(markov_rank=64, **shape))}
    out = {}
    for i, (name, (cls, cfg)) in enumerate(configs.items()):
        c_round, torch_round = cls.build(cfg, target), cls.build(cfg, target)
        randomize(c_round, i)
        torch_round.load_state_dict(c_round.state_dict())
        for d in (c_round, torch_round):
            run_on_fast_runtime(d)          # as load_drafter runs a drafter next to a fast target
        torch_round.runtime = None
        out[name], out[f"{name}, torch round"] = c_round, torch_round
    return out


def randomize(module: torch.nn.Module, seed: int) -> None:
    """Trained-looking magnitudes everywhere (a fresh DSpark's markov_w2 is zero)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if "norm" not in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.02)


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1e3


def quartiles(xs: list[float]) -> tuple[float, float, float]:
    q = statistics.quantiles(xs, n=4)
    return q[0], statistics.median(xs), q[2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--context", type=int, default=256)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--temperatures", default="0,1")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--variants", action="store_true", help="also time gated/rnn heads, rank 64, a 16k draft vocab")
    ap.add_argument("--target", help="a named target on the fast runtime (e.g. smollm2-135m) instead of the random "
                                     "fp32 one: the C round against the torch round")
    ap.add_argument("--layers", type=int, default=1, help="draft layers with --target")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    builders = dict(BUILDERS, **(VARIANTS if args.variants else {}))
    temps = [float(t) for t in args.temperatures.split(",")]
    ctx, nb = args.context, args.batch

    t0 = time.perf_counter()
    if args.target:
        from dspark.models.loader import load_target
        target = load_target(args.target, tokenizer=False).model
        drafters = real_target_drafters(target, args.layers)
    else:
        target = TargetModel(smollm2_shaped()).eval()
        drafters = {name: build(target) for name, build in builders.items()}
        for i, d in enumerate(drafters.values()):
            randomize(d, i)
    for d in drafters.values():
        d.eval()
    print(f"built target and {len(drafters)} drafters in {time.perf_counter() - t0:.1f} s")

    # The target's prefill of the context, once per tap-layer set; its cache is then reused for
    # the verify step (8 new tokens per sequence, rolled back after each repeat).
    gen = torch.Generator().manual_seed(1)
    prompts = [torch.randint(0, target.cfg.vocab_size, (ctx + 1,), generator=gen).tolist() for _ in range(nb)]
    cache = target.new_cache(nb, ctx + VERIFY_TOKENS + 8)
    slots = [cache.allocate() for _ in range(nb)]
    all_taps = sorted({t for d in drafters.values() for t in d.tap_layers})
    out = target.forward(FlatBatch.build([(s, 0, p[:ctx]) for s, p in zip(slots, prompts)], "cpu"),
                         cache, taps=all_taps, need_logits=False)
    tap_rows = dict(zip(all_taps, out.taps))

    def taps_for(d, j: int, a: int, b: int) -> torch.Tensor:
        return torch.cat([tap_rows[t][j * ctx + a:j * ctx + b] for t in d.tap_layers], -1)

    # Per drafter and temperature: sequences that observed ctx - OBSERVED tokens (the snapshot);
    # each repeat restores the snapshot, then times observe(OBSERVED rows) and propose.
    setups = {}
    for name, d in drafters.items():
        for temp in temps:
            seqs = []
            for j, p in enumerate(prompts):
                params = SamplingParams(temperature=temp, seed=j)
                s = Sequence(j, list(p), ctx, params, params.generator(), 64)
                d.start(s)
                s.num_processed = ctx - OBSERVED
                d.observe(s, taps_for(d, j, 0, ctx - OBSERVED), None)
                s.num_processed = ctx
                seqs.append(s)
            snap = [copy.deepcopy(s.draft_state) for s in seqs]
            setups[(name, temp)] = (d, seqs, snap)

    verify_batch = FlatBatch.build([(s, ctx, p[ctx:ctx + 1] + p[:VERIFY_TOKENS - 1])
                                    for s, p in zip(slots, prompts)], "cpu")
    times = {key: {"observe": [], "propose": []} for key in setups}
    verify = []
    with torch.no_grad(), step_threads(target):      # as Engine.step runs (a no-op off the fast runtime)
        for rep in range(args.repeats + 3):          # 3 warm-up repeats
            for key, (d, seqs, snap) in setups.items():
                for s, st in zip(seqs, snap):
                    s.draft_state = copy.deepcopy(st)
                obs = timed(lambda: [d.observe(s, taps_for(d, j, ctx - OBSERVED, ctx), None)
                                     for j, s in enumerate(seqs)])
                prop = timed(lambda: d.propose(seqs))
                if rep >= 3:
                    times[key]["observe"].append(obs)
                    times[key]["propose"].append(prop)
            v = timed(lambda: target.forward(verify_batch, cache, taps=all_taps))
            for s in slots:
                cache.truncate(s, ctx)
            if rep >= 3:
                verify.append(v)

    v_lo, v_med, v_hi = quartiles(verify)
    what = f"{args.target}, fast runtime, {args.layers} draft layer(s)" if args.target else "SmolLM2-135M-shaped (random), fp32"
    print(f"\ntarget {what}, {args.threads} threads, batch {nb}, "
          f"context {ctx}, {args.repeats} repeats; medians [25-75 %] in ms")
    print(f"target verify step, {VERIFY_TOKENS} tokens per sequence: {v_med:.1f} [{v_lo:.1f}-{v_hi:.1f}]\n")
    head = (f"{'drafter':<20}{'T':>4}{'observe(4)':>12}{'propose':>20}{'round':>9}"
            f"{'vs dflash':>11}{'round+verify':>14}{'vs dflash':>11}")
    print(head)
    print("-" * len(head))
    for temp in temps:
        rounds = {name: statistics.median([a + b for a, b in zip(times[(name, temp)]["observe"],
                                                                  times[(name, temp)]["propose"])])
                  for name in drafters}
        base = rounds.get("dflash")
        for name in drafters:
            t = times[(name, temp)]
            o = statistics.median(t["observe"])
            p_lo, p_med, p_hi = quartiles(t["propose"])
            rnd = rounds[name]
            ratio = f"{rnd / base:.2f}" if base else "-"
            ratio_v = f"{(rnd + v_med) / (base + v_med):.3f}" if base else "-"
            print(f"{name:<20}{temp:>4g}{o:>12.2f}{p_med:>9.2f} [{p_lo:4.1f}-{p_hi:4.1f}]{rnd:>9.2f}"
                  f"{ratio:>11}{rnd + v_med:>14.1f}{ratio_v:>11}")
        for name in drafters:
            slow = f"{name}, torch round"
            if slow in rounds:
                # repeat by repeat (interleaved), so a noisy stretch hits both alike
                both = [(a + b) / (c + e) for a, b, c, e in zip(times[(slow, temp)]["observe"], times[(slow, temp)]["propose"],
                                                               times[(name, temp)]["observe"], times[(name, temp)]["propose"])]
                lo, mid, hi = quartiles(both)
                print(f"{name}: torch round / C round {mid:.2f} [{lo:.2f}-{hi:.2f}]")
        print()

if __name__ == "__main__":
    main()
