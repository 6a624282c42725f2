"""Session 44: session 43's line_profile.py at T 0.7 top-p 0.9, with verify_one, block_acceptance and residual profiled too (argv: dspark or none)."""
import sys, torch
from line_profiler import LineProfiler
sys.path.insert(0, "/work/main/benchmarks")
from decode_speed import sample_prompts
from dspark.drafters import load as load_drafter
from dspark.generate import generate
from dspark.models.loader import load_target
from dspark.profile import sps_for_policies
from dspark.sampling import SamplingParams
from dspark import engine as E, schedule as SCH, verify as V
from dspark.drafters import dflash as DF, dspark as DS
from dspark.models import runtime as RT, decoder as DEC
torch.set_num_threads(2)
target = load_target("smollm2-135m")
spec = sys.argv[1] if len(sys.argv) > 1 else "dspark"; POL = "fixed" if spec == "none" else "dspark"
d = None if spec == "none" else load_drafter(spec, target); sps = sps_for_policies("dspark", target)
prompts = sample_prompts(6, "gsm8k,humaneval,math500,mbpp,livecodebench")
ids = [target.encode_prompt(p) for p in prompts]
lp = LineProfiler()
fns = [E.Engine._decode_round, DS.DSparkDrafter._sample, DF.DFlashDrafter._draft_pass, DF.DFlashDrafter._round_in_c,
       RT.DraftForward.round, DS.DSparkDrafter.calibrated, DF.DFlashDrafter.observe, DF.DFlashDrafter.propose_with_logits,
       DEC.TargetModel.forward, RT.FastForward.__call__, RT.FastForward._stack, V.verify, V.verify_one, V.block_acceptance, V.residual] + [getattr(V, n) for n in dir(V) if n in ('verify_block', 'block_verdict', 'sample_rows', 'token_verdict', '_block', '_sampled')]
for c in vars(SCH).values():
    if isinstance(c, type) and issubclass(c, SCH.Policy):
        for m in ["choose", "drafted", "observe", "timed"]:
            if m in vars(c): fns.append(vars(c)[m])
for f in fns: lp.add_function(f)
generate(target, d, ids[0], SamplingParams(0.7, 0.9, 0, 0), 32, policy=POL, sps_table=sps)
lp.enable()
for i in ids: generate(target, d, i, SamplingParams(0.7, 0.9, 0, 0), 128, policy=POL, sps_table=sps)
lp.disable()
lp.print_stats(output_unit=1e-6, stripzeros=True)
