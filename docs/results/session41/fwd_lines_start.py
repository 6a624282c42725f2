"""Session 41: the start build's fast forward (5096182) re-run with timers between its steps: run with
PYTHONPATH=<a worktree of 5096182>/src (it replaces FastForward.__call__ with that build's code)."""
import sys, time, statistics, ctypes, functools
from collections import defaultdict
import dspark, torch
from dspark.batch import FlatBatch
from dspark.models import runtime
from dspark.models.runtime import lib, layer_caches, _product, KVCache
from dspark.models.loader import load_target
torch.set_num_threads(2)
t = load_target("smollm2-135m", tokenizer=False)
model = t.model
T = defaultdict(list)
def call(self, model, batch, cache, taps=(), need_logits=True):
    c = time.perf_counter; t0 = c(); ts = [t0]
    rt = lib(); rt.sync_threads(); ts.append(c())
    cfg, m = self.cfg, model.model
    cache.check_room(batch)
    if cache.k[0].dtype != torch.float16 or not KVCache.head_major(cache.k[0]): raise TypeError
    ts.append(c())
    x = m.embed(batch.tokens).contiguous(); ts.append(c())
    rotary = {False: m.rotary(batch.positions, torch.float32)}; ts.append(c())
    slots, positions = batch.row_slot.contiguous(), batch.positions.contiguous()
    n = x.shape[0]; n_layers = len(self.layers)
    local = rotary.get(True, rotary[False])
    cos = (ctypes.c_void_p * 2)(rotary[False][0].data_ptr(), local[0].data_ptr())
    sin = (ctypes.c_void_p * 2)(rotary[False][1].data_ptr(), local[1].data_ptr())
    k, v = layer_caches(cache)
    tap_layers = torch.tensor(taps, dtype=torch.int64)
    tapped = torch.empty(len(taps), n, x.shape[1])
    out = torch.empty_like(x); ts.append(c())
    rt.forward(ctypes.addressof(self.layer_array), n_layers, x.data_ptr(), n, cos, sin, self.local.data_ptr(), k,
               v, cache.max_len, slots.data_ptr(), positions.data_ptr(), None, tap_layers.data_ptr(), len(taps),
               tapped.data_ptr(), out.data_ptr(), rt.path); ts.append(c())
    tl = list(tapped.unbind(0))
    cache.commit(batch)
    hidden = functools.partial(model.model.norm, out); ts.append(c())
    rows = out if batch.logit_rows is None else out.index_select(0, batch.logit_rows)
    logits = model.soft_cap(_product(rows, self.head, self.head_weight, norm=self.final_norm, eps=self.cfg.rms_norm_eps))
    ts.append(c())
    for i, name in enumerate(["lib+sync", "checks", "embed", "rotary", "args+empties", "C forward", "unbind+commit+partial", "head"]):
        T[name].append(ts[i + 1] - ts[i])
    return logits, tl, hidden
runtime.FastForward.__call__ = call
rt = lib()
with torch.inference_mode():
    for rows in (1, 4):
        T.clear()
        cache = model.new_cache(1, 1024)
        model(FlatBatch.build([(0, 0, list(range(100, 300)))], "cpu"), cache)
        pos = 200; tot = []
        for step in range(150):
            t0 = time.perf_counter()
            b = FlatBatch.build([(0, pos, [1000 + step] * rows)], "cpu")
            t1 = time.perf_counter()
            out = model(b, cache, taps=(1, 8, 14, 20, 27))
            t2 = time.perf_counter()
            tc = torch.cat(out.taps, -1)
            am = runtime.argmax(out.logits)
            t3 = time.perf_counter()
            T["FlatBatch.build"].append(t1 - t0); T["module call overhead"].append(t2 - t1); T["cat taps + argmax"].append(t3 - t2)
            cache.truncate(0, pos + 1); pos += 1
        T["module call overhead"] = [a - sum(x) for a, *x in zip(T["module call overhead"], *[T[k] for k in ["lib+sync", "checks", "embed", "rotary", "args+empties", "C forward", "unbind+commit+partial", "head"]])]
        print(f"rows {rows}: " + ", ".join(f"{k} {1e3*statistics.median(v[20:]):.3f}" for k, v in T.items()))
