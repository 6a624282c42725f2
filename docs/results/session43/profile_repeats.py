"""Session 43: six SPS profiles in one warm process (gc on / off alternated): the one-sequence and spread medians."""
import gc, sys, torch
from dspark.models.loader import load_target
from dspark.profile import profile_sps
torch.set_num_threads(2)
t = load_target("smollm2-135m")
for i in range(6):
    if i % 2: gc.disable()
    tab = profile_sps(t.model, time_budget=20.0)
    gc.enable()
    print("gc off" if i % 2 else "gc on ", tab.meta["one_sequence_ms_per_step"], flush=True)
    print("      ", tab.meta["ms_per_step"][:8], flush=True)
