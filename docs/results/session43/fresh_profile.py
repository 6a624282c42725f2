"""Session 43: one fresh process: load SmolLM2, profile_sps at once; prints its one-sequence medians and what was measured again."""
import time, torch
t0 = time.time()
from dspark.models.loader import load_target
from dspark.profile import profile_sps
torch.set_num_threads(2)
t = load_target("smollm2-135m")
tab = profile_sps(t.model, time_budget=20.0)
print(round(time.time() - t0, 1), "s", tab.meta["one_sequence_ms_per_step"], tab.meta.get("one_sequence_remeasured"), tab.meta["remeasured"], flush=True)
