import sys, ctypes, statistics
import dspark, torch
from dspark.batch import FlatBatch
from dspark.models import runtime
from dspark.models.loader import load_target
torch.set_num_threads(2)
model = load_target("smollm2-135m", tokenizer=False, precision="fast").model
libs = {"base": runtime.profiling_lib(), "variant": runtime._Lib(ctypes.CDLL(sys.argv[1]))}
context = list(range(100, 400)); cache = model.new_cache(1, 400)
res = {}
with torch.no_grad():
    model(FlatBatch.build([(0, 0, context)], "cpu"), cache)
    for rep in range(16):
        for k in (1, 4, 8):
            for name, L in libs.items():
                runtime._LIB = L; L.profile()
                with runtime.step_threads(model):
                    model(FlatBatch.build([(0, 300, [(7 * i + rep) % 5000 + 10 for i in range(k)])], "cpu"), cache)
                cache.truncate(0, 300)
                res.setdefault((name, k), []).append(L.profile()["attention"])
for k in (1, 4, 8):
    print(k, {n: round(statistics.median(res[(n, k)]) * 1e3, 3) for n in libs})
