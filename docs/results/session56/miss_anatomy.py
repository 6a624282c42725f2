"""Where a drafter's greedy drafts miss, on the held-out greedy answers (the t0-heldout store's 200,
features from the q8 cache): the first draft slot's hit rate binned by the target's own top-1
probability (over the draft vocabulary), the share of misses in each bin, how often the target's token
is the draft's second or third choice, and the same at the anchors greedy decoding actually drafts
from (the rounds of `greedy_walk`).

    python docs/results/session56/miss_anatomy.py DRAFTER_DIR [CACHE]   (from the repository root)
"""
import json
import sys
from pathlib import Path

import torch

from deepspec.train.config import load_config
from deepspec.train.losses import walk_rounds
from deepspec.train.trainer import Trainer

drafter = sys.argv[1]
dcfg = json.loads((Path(drafter) / "config.json").read_text())["config"]
cache = sys.argv[2] if len(sys.argv) > 2 else str(Path.home() / ".cache/deepspec/features/smollm2-135m-q8")
cfg = load_config("configs/dspark1p-smollm2-135m-writing.toml", [
    "out_dir=/tmp/miss-anatomy-none", f"init_from={drafter}", f"data.features={cache}",
    'data.paths=["data/regen/smollm2-135m-t0-heldout"]', "data.holdout=200", "logging.carry_dir=",
    f"drafter.num_layers={dcfg['num_layers']}", f"drafter.markov_rank={dcfg['markov_rank']}",
    f"drafter.draft_vocab_size={dcfg['draft_vocab_size']}"])
tr = Trainer(cfg, eval_only=True)
tr.setup()
model = tr.model
model.eval()
bins = torch.tensor([0.0, 0.3, 0.5, 0.7, 0.9, 1.01])
names = ["<0.3", "0.3-0.5", "0.5-0.7", "0.7-0.9", ">=0.9"]
stat = {w: torch.zeros(len(names), 5) for w in ("every anchor", "walk rounds")}   # n, hits, top2, top3, -
cond = {w: torch.zeros(tr.gamma, 2) for w in stat}      # per slot: blocks reaching it, hits
with torch.no_grad():
    for s in tr.heldout:
        [f] = tr.features([s])
        plan = tr.plan_for(0, 0, s, every_anchor=True)
        [(_, logits, _, labels)] = tr._block_outputs([s], [f], [plan], model)
        ok = plan.ce_ok
        tl = tr.drafter.head_logits(f.hidden[plan.anchors].to(logits.device)).float()     # slot 1's target rows
        p1 = torch.softmax(tl, -1).max(-1).values
        top = logits[:, 0].float().topk(3, -1).indices
        lab = labels[:, 0]
        hit = (logits.argmax(-1) == labels) & ok
        accepted = hit.long().cumprod(1).sum(1)
        # the anchors greedy decoding drafts from: a round at p keeps accepted(p) and the next token
        at = {a: i for i, a in enumerate(plan.anchors.tolist())}
        visited = [at[p] for p, _ in walk_rounds(torch.tensor(s.loss_mask), plan.anchors, accepted)]
        for which, idx in (("every anchor", torch.arange(len(plan.anchors))), ("walk rounds", torch.tensor(visited))):
            idx = idx[ok[idx, 0]]
            b = torch.bucketize(p1[idx], bins, right=True) - 1
            for j in range(len(names)):
                sel = idx[b == j]
                st = stat[which][j]
                st[0] += len(sel)
                st[1] += (top[sel, 0] == lab[sel]).sum()
                st[2] += (top[sel, :2] == lab[sel, None]).any(-1).sum()
                st[3] += (top[sel, :3] == lab[sel, None]).any(-1).sum()
            reach = torch.ones(len(idx), dtype=torch.bool)
            for k in range(tr.gamma):
                reach = reach & ok[idx, k]
                cond[which][k, 0] += reach.sum()
                cond[which][k, 1] += (reach & hit[idx, k]).sum()
                reach = reach & hit[idx, k]
print(f"drafter {drafter}, {len(tr.heldout)} held-out conversations (greedy answers)")
for which, st in stat.items():
    total, misses = st[:, 0].sum(), (st[:, 0] - st[:, 1]).sum()
    print(f"\n{which}: {int(total)} first slots, hit {float(st[:, 1].sum() / total):.3f}, "
          f"in the draft's top 2 {float(st[:, 2].sum() / total):.3f}, top 3 {float(st[:, 3].sum() / total):.3f}")
    print("| target top-1 prob | share of slots | hit | top 2 | top 3 | share of misses |")
    print("|---|---|---|---|---|---|")
    for j, nm in enumerate(names):
        c = st[j]
        if c[0] == 0:
            continue
        print(f"| {nm} | {float(c[0] / total):.3f} | {float(c[1] / c[0]):.3f} | {float(c[2] / c[0]):.3f} | "
              f"{float(c[3] / c[0]):.3f} | {float((c[0] - c[1]) / misses):.3f} |")
    cd = cond[which]
    print("conditional hit by slot: " + " ".join(f"{float(cd[k, 1] / cd[k, 0]):.3f}" for k in range(tr.gamma) if cd[k, 0] > 0))
