"""Does drafting from a sharper (or flatter) distribution than the request's raise acceptance at T = 1?
Lossless either way: verification uses the distribution the drafts were drawn from. Patches the
drafters' sample_logits to scale the temperature by S (argv[1]; DSpark's one-request C loop off, batch 8
never takes it), then runs deepspec eval with the rest of the arguments. Session 53, from the root:
    python docs/results/session53/draft_sharpness.py 0.8 eval --threads 2 --batch 8 --temperature 1 \
        --max-samples 10 --max-new-tokens 128 --seed 0 --data ../shared/eval_datasets/<set>.jsonl ... \
        --drafter checkpoints/dspark-smollm2-135m --drafter data/carry/dflash-smollm2-135m-24k --out DIR"""
import dataclasses, sys
import dspark.drafters.dspark as dsp, dspark.drafters.dflash as dfl
from dspark.sampling import sample_logits
scale = float(sys.argv[1])
def scaled(logits, params, generator):
    return sample_logits(logits, dataclasses.replace(params, temperature=params.temperature * scale), generator)
dsp.sample_logits = scaled
dfl.sample_logits = scaled
dsp.DSparkDrafter._sample_in_c = lambda self, *a: None
from deepspec.cli import main
sys.exit(main(sys.argv[2:]))
