"""The trainer behind `deepspec train`: train a drafter (DSpark, DFlash, Eagle3, MTP) on a frozen target.

    deepspec train --config configs/dspark-smollm2-135m.toml [--resume auto|never] [--max-steps N]
                   [section.key=value ...]

Pipeline: regenerated JSONL (or pre-tokenized JSONL) -> tokenize (assistant-only loss mask) ->
target features (online: the frozen target runs under no_grad on every micro-batch; or a feature
cache directory) -> the drafter's training forward -> losses.py -> AdamW (4 % linear warm-up, cosine
to 0), gradient clipping, gradient accumulation, fp32 or bf16 autocast.

Processes: one, or `torchrun --nproc_per_node N -m deepspec.cli train ...` (gloo on CPU, nccl on
CUDA, DistributedDataParallel). Every process draws the same global batch of `batch.sequences`
sequences from the deterministic sampler and takes a disjoint contiguous shard of it; loss
denominators are global, so a step's update equals the one-process update with the same batch.

Determinism: the sampler shuffles with a generator seeded by (seed, epoch); a sequence's anchors
come from a generator seeded by (seed, epoch, sample index), so they do not depend on the process
count or on a resume. The sampler position is part of the checkpoint.

Held-out evaluation ([data] holdout = N, [logging] eval_every = K): the last N loaded samples never
train (after a resume: the N after the samples the checkpoint trained on, so data that grew since
does not move them). Every K steps and at the last step the drafter scores them with the training
losses under no_grad, anchors from epoch 0 (the same blocks every time), the RNG state forked: the
training is the same with or without it. Whether held-out acceptance still follows the training
curve tells data-limited from step-limited (`deepspec plot-train`).

Starting from a trained drafter (`init_from = "DIR"`): its weights and draft vocabulary replace the
random initialisation of a new run (its drafter config and target must match); the run has its own
schedule and optimizer, and evaluates its held-out samples once at step 0, where it begins. A config
with more draft layers than the checkpoint grows it (`grow_layers`), and one with a larger Markov rank
grows its sequential head (`grow_markov_rank`): the new parts start adding nothing, so step 0 drafts
as the trained drafter does.

Output directory:
    train_log.jsonl                  one line per log interval ("split": "train"): every loss term, lr,
                                     grad norm, tokens/s, s/step, accept_rate@k and tau_sim from c*,
                                     greedy_accept@k and tau_greedy from argmax matches, sample ids;
                                     one per held-out evaluation ("split": "heldout"): step, epoch,
                                     the loss terms and those metrics
    tb/                              TensorBoard scalars (same names, under train/ and heldout/)
    heldout_ids.json                 the ids of the held-out samples ([data] holdout > 0), never trained on
    checkpoints/step_XXXXXX/         config.json + model.safetensors (the drafter checkpoint format,
                                     loadable with dspark.drafters.checkpoint.load_drafter) and
                                     trainer_state.pt (optimizer, scheduler, sampler, step, RNG;
                                     tensors and primitives only: torch.load(weights_only=True))
    checkpoints/latest               the name of the newest complete checkpoint
    final/                           the final drafter
Checkpoints are written to a temporary directory and renamed, then `latest` is replaced
atomically, so a kill at any moment leaves the previous checkpoint usable. `--resume auto` (the
default) continues from `latest`; `--resume never` deletes checkpoints/, final/ and the logs first.
"""
from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path

import torch
from torch import nn

from dspark.errors import DSparkError
from dspark.files import atomic_path, load_safetensors, write_text_atomic


from deepspec.data.features import OnlineFeatures
from deepspec.data.tokenize import TokenizedSample

from .checkpoints import STATE_FILE, find_latest, read_carry_log, rng_state, set_rng_state, write_carry
from .config import TrainConfig
from .data import EpochSampler, derived_seed, ids_digest, load_samples, lr_lambda
from .distributed import Dist
from .losses import (BLOCK_ALGORITHMS, TERMS, block_losses, combine_denominators, greedy_walk, make_plan,
                     position_weights, step_weights, summarize)

LOG_FILE = "train_log.jsonl"
HELDOUT_FILE = "heldout_ids.json"
STAT_KEYS = (*TERMS, "l1_mean_sum")   # the scalar sums of `block_losses`
PREFIX_KEYS = ("acc_sum", "greedy_sum", "acc_cnt")           # its [gamma] sums
# Testing aid: sleep this many seconds after every step (lets a test kill a run mid-way reliably).
THROTTLE_ENV = "DEEPSPEC_TRAIN_THROTTLE_S"


def grow_layers(state: dict[str, torch.Tensor], have: int, want: int) -> dict[str, torch.Tensor]:
    """A drafter's weights with `want` draft layers made from one with `have` (< want): each new
    layer starts as a copy of the last trained layer whose output projections (attention's o_proj,
    the MLP's down_proj) are zero, so it adds nothing to the residual stream until training moves
    it. The grown drafter drafts exactly as the trained one at step 0, and the new layers learn from
    the first step (their output projections at once, the rest through them). Paper Fig. 3: the
    second draft layer is the largest depth gain."""
    prefix = f"layers.{have - 1}."
    last = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    if not last:
        raise DSparkError(f"cannot grow draft layers: the checkpoint has no weights under {prefix!r}")
    out = dict(state)
    for i in range(have, want):
        for name, v in last.items():
            zero = name.split(".")[-2] in ("o_proj", "down_proj")
            out[f"layers.{i}.{name}"] = torch.zeros_like(v) if zero else v.clone()
    return out


def grow_markov_rank(state: dict[str, torch.Tensor], have: int, want: int, seed: int,
                     confidence_reads_markov: bool) -> dict[str, torch.Tensor]:
    """A vanilla Markov head of rank `have` widened to `want` (> have): the embedding W1 [V, r] gains
    columns drawn at the trained columns' spread, the output W2 [V', r] and the confidence head's
    weights on W1[x] (when it reads them) gain zero columns, so the bias W2 W1[x] and the confidences
    are unchanged at step 0; W2's new columns learn from the first step (their gradient reads W1's
    new columns), W1's through them."""
    w1, w2 = state["markov_head.markov_w1.weight"], state["markov_head.markov_w2.weight"]
    if w1.shape[1] != have or w2.shape[1] != have:
        raise DSparkError(f"cannot grow the Markov rank: the checkpoint's head is not rank {have}")
    g = torch.Generator().manual_seed(seed)
    spread = float(w1.float().std())
    extra = torch.randn(w1.shape[0], want - have, generator=g) * spread
    out = dict(state)
    out["markov_head.markov_w1.weight"] = torch.cat([w1, extra.to(w1.dtype)], 1)
    out["markov_head.markov_w2.weight"] = torch.cat([w2, w2.new_zeros(w2.shape[0], want - have)], 1)
    conf = state.get("confidence_head.proj.weight")
    if conf is not None and confidence_reads_markov:     # [h; W1[x]]: W1's part is the last `have` inputs
        out["confidence_head.proj.weight"] = torch.cat([conf, conf.new_zeros(1, want - have)], 1)
    return out


def resolve_precision(precision: str, device: torch.device) -> str:
    """"auto": bf16 autocast where the hardware multiplies bf16 natively (CUDA; CPUs with AVX-512
    BF16 or AMX, where oneDNN's bf16 products run 4-5x faster than fp32 ones), else fp32 (AVX2-only
    CPUs would emulate bf16 and run slower)."""
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16"
    from dspark.models.runtime import cpu_has_bf16
    return "bf16" if device.type == "cpu" and cpu_has_bf16() else "fp32"


# --- the forward that DDP wraps ----------------------------------------------------------------

class TrainForward(nn.Module):
    """drafter training forward over a micro-batch of sequences: items (tokens, taps, anchors) ->
    per item (draft logits [A, gamma, V'], confidence logits [A, gamma] | None) for the blocks
    anchored at `anchors` (slot k predicts tokens[anchor + k + 1]). The block drafters run all the
    items in one pass (forward_train_many: every product over the whole micro-batch)."""

    def __init__(self, drafter, chain: bool):
        super().__init__()
        self.drafter = drafter
        self.chain = chain

    def forward(self, items):
        d = self.drafter
        if self.chain:
            out = []
            for tokens, taps, anchors in items:
                # training-time test: row t = anchor - 1, step k predicts tokens[t + 2 + k]
                h = d.forward_train(tokens, taps, steps=d.gamma, return_hidden=True)     # [g, T, H]
                # contiguous: a transposed view would send the LM head (full or draft vocabulary)
                # through matmul's batched path, which copies the head weight once per anchor
                hs = h[:, anchors - 1].transpose(0, 1).contiguous()                     # [A, g, H]
                out.append((d.head_logits(hs), None))
            return out
        outs = d.forward_train_many([(tokens, taps, anchors, None) for tokens, taps, anchors in items])
        return [(o.markov_logits if o.markov_logits is not None else o.logits, o.confidence_logits) for o in outs]


# --- the trainer -----------------------------------------------------------------------------

class Trainer:
    def __init__(self, cfg: TrainConfig, resume: str = "auto", log=None, eval_only: bool = False):
        """eval_only: `evaluate_only` scores the weights the run would continue from and writes
        nothing (no checkpoint is deleted, whatever `resume` says)."""
        self.cfg = cfg
        self.eval_only = eval_only
        self.resume_mode = "auto" if eval_only else resume
        self.dist = Dist(cfg.device)
        self.device = self.dist.device
        self.out = Path(cfg.out_dir)
        self.ckpt_dir = self.out / "checkpoints"
        self._log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))

    def log(self, msg: str) -> None:
        if self.dist.main:
            self._log(f"deepspec train: {msg}")

    # --- setup ---------------------------------------------------------------------------------
    def setup(self) -> None:
        from dspark.drafters import vocab as dvocab
        from dspark.drafters.checkpoint import REGISTRY
        from dspark.models.loader import load_target
        cfg = self.cfg
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        if cfg.batch.sequences % self.dist.world:
            raise DSparkError(f"[batch] sequences ({cfg.batch.sequences}) must be a multiple of the number "
                              f"of processes ({self.dist.world})")
        if self.resume_mode == "never" and self.dist.main:
            for p in (self.ckpt_dir, self.out / "final", self.out / "tb"):
                shutil.rmtree(p, ignore_errors=True)
            (self.out / LOG_FILE).unlink(missing_ok=True)
        self.dist.barrier()

        self.precision = resolve_precision(cfg.precision, self.device)
        tdtype = cfg.target_dtype
        if tdtype == "auto":
            tdtype = "bf16" if (self.device.type == "cuda" and self.precision == "bf16") else "fp32"
        self.target = load_target(cfg.target, device=str(self.device), dtype=tdtype,
                                  tokenizer=bool(cfg.data.paths))
        tm = self.target.model
        for p in tm.parameters():
            p.requires_grad_(False)
        tm.eval()

        self.samples, stats = load_samples(cfg, self.target.tokenizer, self.target.config.vocab_size)
        if cfg.precision == "auto":
            self.log(f"precision auto: {self.precision} on {self.device}")
        # where the steps ran, in every training row: a run can continue on other hardware (a carry
        # trained on a GPU for minutes, then on CPU), and the model card names each
        self.hardware = (f"{self.dist.world} x {torch.cuda.get_device_name(self.device)}" if self.device.type == "cuda"
                         else f"{self.dist.world} x {torch.get_num_threads()} CPU threads") + f" ({self.precision})"

        cls = REGISTRY[cfg.algorithm]
        dcfg = cfg.drafter_config()
        self.alphas = cfg.loss_alphas()
        torch.manual_seed(cfg.seed)
        drafter = cls.build(dcfg, tm)
        drafter.to(device=self.device, dtype=torch.float32)   # fp32 master weights
        if self.alphas.bce and getattr(drafter, "confidence_head", None) is None:
            raise DSparkError("[loss] bce > 0 but the drafter has no confidence head (enable_confidence_head)")
        self.drafter = drafter
        self.gamma = int(drafter.gamma)
        self.chain = cfg.algorithm not in BLOCK_ALGORITHMS
        self.wk = (step_weights(self.gamma, cfg.loss.step_weight) if self.chain
                   else position_weights(self.gamma, cfg.loss.position_decay))

        # sampler, schedule, resume point
        self.resume_from, state = self._resume_point() if self.resume_mode == "auto" else (None, None)
        if state is not None:
            self._check_resume(state)
        h = cfg.data.holdout
        if self.eval_only and not 0 < h <= len(self.samples):
            raise DSparkError(f"--eval-only scores the held-out samples: [data] holdout = {h} with "
                              f"{len(self.samples)} loaded (set data.holdout to 1..{len(self.samples)})")
        if h >= len(self.samples) and not self.eval_only:
            raise DSparkError(f"[data] holdout = {h} leaves no training samples ({len(self.samples)} loaded)")
        n = len(self.samples) - h
        self.samples, self.heldout = self.samples[:n], self.samples[n:]
        if self.heldout and self.dist.main and not self.eval_only:
            # which conversations never train: calibration and evaluation can draw unseen prompts from them
            self.out.mkdir(parents=True, exist_ok=True)
            write_text_atomic(self.out / HELDOUT_FILE, json.dumps([x.id for x in self.heldout]) + "\n")
        self.log(f"{n} training samples" + (f" + {h} held out" if h else "") + f" ({stats.get('skipped', 0)} "
                 f"skipped without loss tokens), {sum(len(s) for s in self.samples):,} training tokens")
        lengths = [len(s) for s in self.samples] if cfg.batch.group_by_length else None
        self.sampler = EpochSampler(len(self.samples), cfg.seed, lengths, cfg.batch.sequences)
        steps = cfg.schedule.total_steps or math.ceil(cfg.schedule.epochs * len(self.samples) / cfg.batch.sequences)
        self.total_steps = max(1, int(steps))

        if state is None and cfg.init_from:
            self._init_from(drafter)
        elif state is None and getattr(drafter, "d2t", None) is not None:
            counts = dvocab.count_tokens(([t for t, m in zip(s.input_ids, s.loss_mask) if m] for s in self.samples),
                                         self.target.config.vocab_size)
            eos = sorted(t for t in self.target.eos_ids if 0 <= t < self.target.config.vocab_size)
            d2t, t2d = dvocab.build_vocab_mapping(counts, drafter.d2t.numel(), always_include=eos)
            drafter.set_draft_vocab(d2t, t2d)
            covered = float(counts[t2d].sum()) / max(1.0, float(counts.sum()))
            self.log(f"draft vocabulary: {drafter.d2t.numel()} most frequent assistant tokens, "
                     f"covering {covered:.2%} of the training labels")
        if state is not None:
            from dspark.drafters.checkpoint import load_weights
            load_weights(drafter, load_safetensors(self.resume_from / "model.safetensors"),
                         f"checkpoint {self.resume_from}")
        t2d = getattr(drafter, "t2d", None)
        self.t2d = None if t2d is None else t2d.detach().cpu()

        params = [p for p in drafter.parameters() if p.requires_grad]
        self.params = params
        o = cfg.optimizer
        self.optimizer = torch.optim.AdamW(params, lr=o.lr, betas=tuple(o.betas), eps=o.eps,
                                           weight_decay=o.weight_decay)
        # A carry has no optimizer moments: fresh AdamW moments meet a learning rate that ramps back
        # from 0 over rewarm_steps (the moments need a few dozen steps before their ratio means anything)
        self.rewarm_from = None if state is None else state.get("rewarm_from")
        if state is not None and "optimizer" not in state:
            self.rewarm_from = int(state["step"])
        base = lr_lambda(self.total_steps, cfg.schedule.warmup_ratio, cfg.schedule.min_lr_ratio)
        k = max(1, cfg.schedule.rewarm_steps)

        def lam(step: int) -> float:
            ramp = 1.0 if self.rewarm_from is None else min(1.0, (step - self.rewarm_from + 1) / k)
            return base(step) * ramp
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lam)
        self.step = 0
        if state is not None:
            self.scheduler.load_state_dict(state["scheduler"])
            if "optimizer" in state:
                self.optimizer.load_state_dict(state["optimizer"])
            else:
                for g, b in zip(self.optimizer.param_groups, self.scheduler.base_lrs):
                    g["lr"] = b * lam(int(state["step"]))
            self.sampler.load_state_dict(state["sampler"])
            self.step = int(state["step"])
            set_rng_state(state["rng"])
        self.carried_step = self.step
        if state is not None and self.eval_only:
            self.log(f"scoring {self.resume_from} (step {self.step})")
        elif state is not None:
            self.log(f"resuming from {self.resume_from} (step {self.step})" +
                     ("" if "optimizer" in state else f"; a carry: fresh optimizer moments, lr ramps back "
                                                      f"over {k} steps"))

        fwd = TrainForward(drafter, self.chain)
        if self.dist.enabled:
            from torch.nn.parallel import DistributedDataParallel as DDP
            unused = bool(getattr(drafter, "confidence_head", None) is not None and not self.alphas.bce)
            # buffers (d2t / t2d) are identical on every rank and never change: no per-forward sync
            import inspect
            sync = ({"forward_sync_buffers": False} if "forward_sync_buffers" in inspect.signature(DDP).parameters
                    else {"broadcast_buffers": False})
            fwd = DDP(fwd, device_ids=[self.device.index] if self.device.type == "cuda" else None,
                      find_unused_parameters=unused, **sync)
        self.model = fwd

        if cfg.data.features == "online":
            self.features = OnlineFeatures(tm, drafter.tap_layers, cfg.data.feature_token_budget)
        else:
            from deepspec.data.feature_cache import CachedFeatures
            # A cache still being extended (or whose extension was cut off) serves the samples its
            # committed shards hold; what matters is that every sample this run reads is among them.
            self.features = CachedFeatures(cfg.data.features, target=self.target, tap_layers=drafter.tap_layers,
                                           device=self.device, require_complete=False)
            absent = [x.id for x in (*self.samples, *self.heldout) if x.id not in self.features]
            if absent:
                unfinished = "" if self.features.complete else " (its build is incomplete: rerun `deepspec cache` to resume it)"
                raise DSparkError(f"{len(absent)} of this run's {len(self.samples) + len(self.heldout)} samples are "
                                  f"not in the feature cache at {cfg.data.features}{unfinished}, e.g. {absent[0]!r}; "
                                  f"build it with `deepspec cache --data ... --out {cfg.data.features}` over [data] paths")
            if not self.features.complete:
                self.log(f"the feature cache at {cfg.data.features} is being extended (or its extension was cut "
                         f"off); every sample of this run is in its committed shards")
        # The samples hold millions of token-id ints that every full garbage collection would walk
        # again (1.4-3 % of a CPU step, session 7's profile): everything loaded so far stays alive
        # for the whole run, so take it out of the collector's sight.
        gc.freeze()

    def _init_from(self, drafter) -> None:
        """[init_from]: the trained drafter's weights and draft vocabulary (its Markov head and LM
        rows follow that vocabulary's order, so it is kept, not rebuilt from this run's data)."""
        from dspark.drafters.checkpoint import load_weights, read_checkpoint
        path = Path(self.cfg.init_from)
        cls, config, state = read_checkpoint(path, self.target)
        if not isinstance(drafter, cls):
            raise DSparkError(f"init_from {path}: a {cls.__name__}, not this run's {type(drafter).__name__}")
        theirs, ours = dataclasses.asdict(config), dataclasses.asdict(drafter.config)   # built: taps resolved
        have, want = theirs.get("num_layers"), ours.get("num_layers")
        grow = isinstance(have, int) and isinstance(want, int) and 0 < have < want
        if grow:
            theirs["num_layers"] = want
        rank_have, rank_want = theirs.get("markov_rank"), ours.get("markov_rank")
        grow_rank = (isinstance(rank_have, int) and isinstance(rank_want, int) and 0 < rank_have < rank_want
                     and theirs.get("markov_head_type") == ours.get("markov_head_type") == "vanilla")
        if grow_rank:
            theirs["markov_rank"] = rank_want
        if theirs != ours:
            diff = ", ".join(f"{k} {theirs.get(k)!r} there, {ours.get(k)!r} here"
                             for k in sorted(set(theirs) | set(ours)) if theirs.get(k) != ours.get(k))
            raise DSparkError(f"init_from {path}: its drafter config differs from [drafter]: {diff}")
        if grow:
            state = grow_layers(state, have, want)
        if grow_rank:
            state = grow_markov_rank(state, rank_have, rank_want, self.cfg.seed,
                                     bool(ours.get("confidence_head_with_markov")))
        load_weights(drafter, state, f"init_from {path}")
        self.log(f"initialised from {path} (its weights and draft vocabulary)"
                 + (f"; grown from {have} to {want} draft layers, the new ones the identity at first" if grow else "")
                 + (f"; Markov rank grown from {rank_have} to {rank_want}, the new part adding nothing at first"
                    if grow_rank else ""))

    def _resume_point(self) -> tuple[Path | None, dict | None]:
        """The checkpoint to continue from and its trainer state: the run's newest checkpoint or the
        carry, whichever is further along (a carry on a new machine, after the committed one was pulled)."""
        local = find_latest(self.ckpt_dir)
        carry = Path(self.cfg.logging.carry_dir) if self.cfg.logging.carry_dir else None
        if carry is not None and not ((carry / STATE_FILE).is_file() and (carry / "model.safetensors").is_file()):
            carry = None
        cands = []
        for p in (local, carry):
            if p is None:
                continue
            try:
                st = torch.load(p / STATE_FILE, map_location="cpu", weights_only=True)
            except Exception as e:   # truncated or not a trainer state
                raise DSparkError(f"cannot read the trainer state {p / STATE_FILE}: {e}; delete that "
                                  f"checkpoint or use --resume never") from None
            cands.append((int(st["step"]), p is local, p, st))
        if not cands:
            return None, None
        _, _, path, st = max(cands, key=lambda c: (c[0], c[1]))   # a tie goes to the full checkpoint
        if path == carry and self.dist.main and not self.eval_only:
            self._restore_log(carry)
        return path, st

    def _restore_log(self, carry: Path) -> None:
        """The carry's log, where this machine's log stops before it (the curves keep their history)."""
        carried = read_carry_log(carry)
        if carried is None:
            return
        dst = self.out / LOG_FILE
        if not dst.exists() or len(dst.read_text()) < len(carried):
            self.out.mkdir(parents=True, exist_ok=True)
            write_text_atomic(dst, carried)

    def _check_resume(self, state: dict) -> None:
        cfg = self.cfg
        if state.get("algorithm") != cfg.algorithm:
            raise DSparkError(f"checkpoint {self.resume_from} is a {state.get('algorithm')} run, the config "
                              f"says {cfg.algorithm}; use --resume never or another out_dir")
        mine = _plain(dataclasses.asdict(self.drafter.config))
        if state.get("drafter_config") != mine:
            raise DSparkError(f"checkpoint {self.resume_from} was trained with drafter config "
                              f"{state.get('drafter_config')}, this config gives {mine}; use --resume never "
                              f"or another out_dir")
        if self.eval_only:      # other data may be scored: what it trained on does not matter
            return
        # the checkpoint trained on the first n samples; the held-out ones are the h after them
        n, h = int(state["data"]["num_samples"]), cfg.data.holdout
        if len(self.samples) < n or ids_digest(self.samples[:n]) != state["data"]["ids_sha256"]:
            raise DSparkError(f"the training data changed since checkpoint {self.resume_from} "
                              f"({n} samples then, {len(self.samples)} now, different ids or order); "
                              f"resuming would break the sample order: use --resume never")
        if len(self.samples) < n + h:
            raise DSparkError(f"[data] holdout = {h} needs {h} samples after the {n} that checkpoint "
                              f"{self.resume_from} trains on, there are {len(self.samples) - n}: lower holdout, "
                              f"add data or use --resume never")
        if int(state["data"].get("holdout", 0)) != h:
            self.log(f"[data] holdout was {state['data'].get('holdout', 0)} at the checkpoint, now {h}: "
                     f"held-out rows before step {state['step']} scored other samples")
        if len(self.samples) > n + h:
            self.log(f"the data grew to {len(self.samples)} samples since the checkpoint; continuing on the "
                     f"first {n}" + (f", the next {h} held out" if h else ""))
            self.samples = self.samples[:n + h]

    # --- one step --------------------------------------------------------------------------------
    def plan_for(self, epoch: int, index: int, sample: TokenizedSample | None = None, every_anchor: bool = False):
        """The blocks of training sample `index`, or of `sample` (a held-out one; `index` = its position
        in the data, which seeds its anchors); with `every_anchor`, a block at every answer position."""
        from dspark.drafters.dflash import sample_anchors
        s = self.samples[index] if sample is None else sample
        tokens = torch.tensor(s.input_ids, dtype=torch.long)
        mask = torch.tensor(s.loss_mask, dtype=torch.bool)
        amask = mask.clone()
        if self.chain:
            amask[0] = False        # row t = anchor - 1 must exist
        g = torch.Generator().manual_seed(derived_seed("anchors", self.cfg.seed, epoch, index))
        a = 0 if every_anchor else self.cfg.batch.anchors_per_seq
        anchors = sample_anchors(amask, a if a > 0 else len(s), g)
        return make_plan(tokens, mask, anchors, self.wk, self.t2d)

    def _block_outputs(self, samples: list[TokenizedSample], feats, plans, model: nn.Module):
        """One training forward for a micro-batch's blocks: per sequence (tokens, draft logits
        [A, gamma, V'], confidence logits, labels [A, gamma] in the draft vocabulary, -1 outside it)."""
        from dspark.drafters import vocab as dvocab
        dev, offs = self.device, torch.arange(self.gamma, device=self.device)
        tokens = [torch.tensor(s.input_ids, dtype=torch.long, device=dev) for s in samples]
        items = [(t, f.taps.to(dev), p.anchors.to(dev)) for t, f, p in zip(tokens, feats, plans)]
        with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=self.precision == "bf16"):
            outputs = model(items)
        out = []
        for t, (logits, conf), plan in zip(tokens, outputs, plans):
            labels = t[(plan.anchors.to(dev)[:, None] + 1 + offs).clamp(max=t.numel() - 1)]
            if self.t2d is not None:
                labels = dvocab.target_to_draft(labels, self.drafter.t2d)
            out.append((t, logits, conf, labels))
        return out

    def _chunk_loss(self, samples: list[TokenizedSample], feats, plans, den: dict, model: nn.Module | None = None):
        """(loss, statistics) of a micro-batch: one training forward for all its sequences, then each
        sequence's `block_losses` against the target's logits at its supervised rows, summed."""
        model = self.model if model is None else model
        dev, offs = self.device, torch.arange(self.gamma)
        blocks = self._block_outputs(samples, feats, plans, model)
        # the target's logits at every sequence's supervised rows p + k, one head product for all
        with torch.no_grad():
            hid, inv = [], []
            for f, plan in zip(feats, plans):
                uniq, i = torch.unique((plan.anchors[:, None] + offs)[plan.supervised], return_inverse=True)
                hid.append(f.hidden[uniq.to(f.hidden.device)].to(dev))
                inv.append(i.to(dev))
            target_logits = self.drafter.head_logits(torch.cat(hid)).split([h.shape[0] for h in hid])
        loss, sums = 0.0, {}
        for (_, logits, conf, labels), plan, tl, i in zip(blocks, plans, target_logits, inv):
            part, stats = block_losses(logits, tl[i], labels, plan, self.alphas, den, conf, scale=self.dist.world)
            loss = loss + part
            for k, v in stats.items():
                sums[k] = sums[k] + v if k in sums else v
        return loss, sums

    def _walk(self, samples: list[TokenizedSample], feats, model: nn.Module) -> torch.Tensor:
        """[tokens, rounds] of greedy decoding replayed over `samples` (`greedy_walk`): every answer
        position an anchor, a draft kept while it is the label (the target's token in greedy answers).
        One sequence a forward: its logits are [answer tokens, gamma, draft vocabulary]."""
        total = torch.zeros(2, dtype=torch.float64)
        for s, f in zip(samples, feats):
            plan = self.plan_for(0, 0, s, every_anchor=True)
            [(_, logits, _, labels)] = self._block_outputs([s], [f], [plan], model)
            hit = (logits.argmax(-1) == labels) & plan.ce_ok.to(labels.device)   # ce_ok: supervised, in the draft vocab
            accepted = hit.long().cumprod(dim=1).sum(dim=1).cpu()
            total += torch.tensor(greedy_walk(torch.tensor(s.loss_mask), plan.anchors, accepted), dtype=torch.float64)
        return total

    def train_step(self) -> dict:
        cfg, d = self.cfg, self.dist
        batch = self.sampler.take(cfg.batch.sequences)
        plans = [self.plan_for(e, i) for e, i in batch]
        den = combine_denominators(plans)
        per = len(batch) // d.world
        mine = list(range(d.rank * per, (d.rank + 1) * per))
        n_micro = min(cfg.batch.grad_accum, len(mine))
        chunks = [mine[len(mine) * i // n_micro: len(mine) * (i + 1) // n_micro] for i in range(n_micro)]
        totals = self._new_totals()
        self.model.train()
        for ci, chunk in enumerate(chunks):
            samples = [self.samples[batch[j][1]] for j in chunk]
            feats = self.features(samples)
            last = ci == len(chunks) - 1
            sync = contextlib.nullcontext() if (last or not d.enabled) else self.model.no_sync()
            with sync:
                loss, sums = self._chunk_loss(samples, feats, [plans[j] for j in chunk], den)
                loss.backward()
            for k, v in sums.items():
                totals[k] = totals[k] + v
            del feats
        totals = self._all_reduce(totals)
        if cfg.optimizer.grad_clip > 0:
            gn = torch.nn.utils.clip_grad_norm_(self.params, cfg.optimizer.grad_clip)
        else:
            gn = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in self.params if p.grad is not None]))
        lr = self.optimizer.param_groups[0]["lr"]
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        return {"totals": totals, "den": den, "lr": lr, "grad_norm": float(gn),
                "tokens": sum(len(self.samples[i]) for _, i in batch),
                "sample_ids": [self.samples[i].id for _, i in batch]}

    def _new_totals(self) -> dict:
        return {**{k: 0.0 for k in STAT_KEYS}, **{k: torch.zeros(self.gamma) for k in PREFIX_KEYS}}

    def _all_reduce(self, totals: dict) -> dict:
        """Global statistics from every process's sums (one all-reduce)."""
        g, k = self.gamma, len(STAT_KEYS)
        vec = torch.cat([torch.tensor([totals[t] for t in STAT_KEYS], dtype=torch.float64),
                         *(totals[t].double() for t in PREFIX_KEYS)])
        vec = self.dist.all_reduce(vec).cpu()
        out = {t: float(vec[i]) for i, t in enumerate(STAT_KEYS)}
        out.update({t: vec[k + j * g:k + (j + 1) * g] for j, t in enumerate(PREFIX_KEYS)})
        return out

    def evaluate(self) -> dict:
        """Held-out metrics of the current weights (`summarize` of the training losses over every held-out
        sample). Each process scores every world-th sample with the plain (not DDP) forward; one
        all-reduce, so every process must call it. The RNG state is forked: nothing the training draws
        depends on whether or how often this runs."""
        cfg, d = self.cfg, self.dist
        n = len(self.samples)
        plans = [self.plan_for(0, n + j, s) for j, s in enumerate(self.heldout)]
        den = combine_denominators(plans)
        mine = list(range(d.rank, len(plans), d.world))
        micro = max(1, cfg.batch.sequences // (d.world * cfg.batch.grad_accum))
        model = getattr(self.model, "module", self.model)
        totals = self._new_totals()
        walk = torch.zeros(2, dtype=torch.float64)
        cuda = [self.device] if self.device.type == "cuda" else []
        self.model.eval()
        try:
            with torch.no_grad(), torch.random.fork_rng(devices=cuda, device_type="cuda"):
                for c in range(0, len(mine), micro):
                    idx = mine[c:c + micro]
                    samples = [self.heldout[j] for j in idx]
                    feats = self.features(samples)
                    _, sums = self._chunk_loss(samples, feats, [plans[j] for j in idx], den, model)
                    for k, v in sums.items():
                        totals[k] = totals[k] + v
                    if cfg.logging.eval_walk:
                        walk += self._walk(samples, feats, model)
        finally:
            self.model.train()
        totals = self._all_reduce(totals)
        row = {**summarize(totals, den, self.alphas), "samples": len(plans), "supervised_slots": int(den["slots"])}
        if cfg.logging.eval_walk:
            tokens, rounds = self.dist.all_reduce(walk).tolist()
            row.update(tau_walk=tokens / rounds if rounds else float("nan"), walk_rounds=int(rounds))
        return row

    def evaluate_only(self) -> dict:
        """The held-out row of the weights this run would continue from (its newest checkpoint or
        carry, else init_from) on the config's held-out samples, which may come from other data than
        it trained on (answers sampled at another temperature, say). Nothing is written."""
        if not self.cfg.init_from and self._resume_point()[0] is None:   # before loading target and data
            raise DSparkError(f"--eval-only: {self.out} has no checkpoint or carry and the config no init_from: "
                              f"no trained weights to score")
        self.setup()
        weights = self.resume_from or self.cfg.init_from
        return {"split": "heldout", "step": self.step, "weights": str(weights), **self.evaluate()}

    # --- checkpoints and logs --------------------------------------------------------------------
    def save_checkpoint(self) -> Path | None:
        from dspark.drafters.checkpoint import save_drafter
        path = None
        if self.dist.main:
            name = f"step_{self.step:06d}"
            path = self.ckpt_dir / name
            with atomic_path(path, durable=True) as tmp:
                save_drafter(self.drafter, tmp, self.target.name)
                n = len(self.samples)
                state = {"step": self.step, "total_steps": self.total_steps, "algorithm": self.cfg.algorithm,
                         "drafter_config": _plain(dataclasses.asdict(self.drafter.config)),
                         "sampler": self.sampler.state_dict(), "optimizer": self.optimizer.state_dict(),
                         "scheduler": self.scheduler.state_dict(), "rng": rng_state(),
                         "data": {"num_samples": n, "ids_sha256": ids_digest(self.samples),
                                  "holdout": len(self.heldout)},
                         "world_size": self.dist.world, "rewarm_from": self.rewarm_from}
                torch.save(state, tmp / STATE_FILE)
            write_text_atomic(self.ckpt_dir / "latest", name + "\n")
            keep = self.cfg.logging.keep_checkpoints
            old = sorted(p for p in self.ckpt_dir.glob("step_*") if p.is_dir() and p != path)
            for p in old[:max(0, len(old) - (keep - 1))]:
                shutil.rmtree(p, ignore_errors=True)
        self.dist.barrier()
        return path

    def save_carry(self) -> Path | None:
        """The newest checkpoint, compact (carry_dir; see checkpoints.write_carry)."""
        latest = find_latest(self.ckpt_dir)
        if not (self.cfg.logging.carry_dir and self.dist.main and latest is not None):
            return None
        self.carried_step = self.step
        return write_carry(latest, self.out / LOG_FILE, Path(self.cfg.logging.carry_dir))

    def save_final(self) -> Path:
        from dspark.drafters.checkpoint import save_drafter
        final = self.out / "final"
        if self.dist.main:
            with atomic_path(final) as tmp:
                save_drafter(self.drafter, tmp, self.target.name)
        self.dist.barrier()
        return final

    def _trim_log(self) -> None:
        """Drop log lines past the resumed step (written after the checkpoint, before a kill)."""
        path = self.out / LOG_FILE
        if not path.exists():
            return
        keep = []
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if row.get("step", 0) <= self.step:
                keep.append(line)
        write_text_atomic(path, "".join(x + "\n" for x in keep))

    # --- the loop --------------------------------------------------------------------------------
    def run(self) -> dict:
        try:
            return self._run()
        finally:
            self.dist.close()

    def _run(self) -> dict:
        cfg, lg = self.cfg, self.cfg.logging
        self.setup()
        main = self.dist.main
        if main:
            self.out.mkdir(parents=True, exist_ok=True)
            self._trim_log()
            (self.out / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")
        writer = None
        if main and lg.tensorboard:
            from torch.utils.tensorboard import SummaryWriter
            writer = SummaryWriter(str(self.out / "tb"), purge_step=self.step + 1 if self.step else None)
        if self.step >= self.total_steps:
            self.log(f"already trained {self.step} of {self.total_steps} steps")
            final = self.save_final()
            return {"steps": self.step, "final": str(final)}
        self.log(f"{cfg.algorithm} drafter, {sum(p.numel() for p in self.params):,} trainable parameters, "
                 f"taps {list(self.drafter.tap_layers)}, gamma {self.gamma}; {self.total_steps} steps of "
                 f"{cfg.batch.sequences} sequences on {self.dist.world} process(es), {self.device}")
        bar = None
        if main and lg.progress:
            from tqdm import tqdm
            bar = tqdm(total=self.total_steps, initial=self.step, desc="train", unit="step", file=sys.stderr,
                       dynamic_ncols=True)
        throttle = float(os.environ.get(THROTTLE_ENV, "0") or 0)
        if self.heldout and self.cfg.init_from and self.step == 0:
            # where a run started from a trained drafter begins, on this run's held-out samples
            self._write_row({"split": "heldout", "step": 0, "epoch": 0.0, **self.evaluate()}, writer)
        interval = self._new_interval()
        last_row: dict = {}
        first_loss = None
        while self.step < self.total_steps:
            res = self.train_step()
            self._accumulate(interval, res)
            ckpt = self.step % lg.checkpoint_every == 0 or self.step == self.total_steps
            if self.step % lg.log_every == 0 or ckpt:
                row = self._flush(interval, writer)
                if first_loss is None:
                    first_loss = row["loss"]
                last_row = row
                interval = self._new_interval()
                if bar is not None:
                    bar.set_postfix(loss=f"{row['loss']:.4f}", tau=f"{row.get('tau_sim', 0):.2f}",
                                    tok_s=f"{row['tokens_per_s']:.0f}")
            if bar is not None:
                bar.update(1)
            if self.heldout and (self.step == self.total_steps or (lg.eval_every and self.step % lg.eval_every == 0)):
                self._write_row({"split": "heldout", "step": self.step, "epoch": round(self.sampler.progress, 6),
                                 **self.evaluate()}, writer)
            if ckpt:    # after the evaluation: a resume from it never lacks that step's held-out row
                self.save_checkpoint()
                if lg.carry_every and (self.step - self.carried_step >= lg.carry_every
                                       or self.step == self.total_steps):
                    self.save_carry()
            if throttle:
                time.sleep(throttle)
        if bar is not None:
            bar.close()
        if writer is not None:
            writer.close()
        final = self.save_final()
        self.log(f"done: {self.step} steps, final drafter in {final}")
        return {"steps": self.step, "final": str(final), "first_loss": first_loss, "last": last_row}

    def _new_interval(self) -> dict:
        return {"totals": None, "den": None, "steps": 0, "grad_norm": 0.0, "tokens": 0, "ids": [],
                "t0": time.perf_counter(), "lr": 0.0}

    def _accumulate(self, iv: dict, res: dict) -> None:
        if iv["totals"] is None:
            iv["totals"], iv["den"] = res["totals"], dict(res["den"])
        else:
            for k, v in res["totals"].items():
                iv["totals"][k] = iv["totals"][k] + v
            for k, v in res["den"].items():
                iv["den"][k] += v
        iv["steps"] += 1
        iv["grad_norm"] += res["grad_norm"]
        iv["tokens"] += res["tokens"]
        iv["ids"] += res["sample_ids"]
        iv["lr"] = res["lr"]

    def _flush(self, iv: dict, writer) -> dict:
        elapsed = max(time.perf_counter() - iv["t0"], 1e-9)
        metrics = summarize(iv["totals"], iv["den"], self.alphas)
        row = {"split": "train", "step": self.step, "epoch": round(self.sampler.progress, 6), "lr": iv["lr"],
               **metrics, "grad_norm": iv["grad_norm"] / iv["steps"], "tokens": iv["tokens"],
               "supervised_slots": int(iv["den"]["slots"]), "tokens_per_s": iv["tokens"] / elapsed,
               "s_per_step": elapsed / iv["steps"], "hardware": self.hardware}
        if self.cfg.logging.log_sample_ids:
            row["sample_ids"] = iv["ids"]
        self._write_row(row, writer)
        return row

    def _write_row(self, row: dict, writer) -> None:
        """One line of the log (process 0), and its numbers as TensorBoard scalars under row["split"]/."""
        if not self.dist.main:
            return
        with open(self.out / LOG_FILE, "a") as f:
            f.write(json.dumps(row) + "\n")
            f.flush()
        if writer is not None:
            for k, v in row.items():
                if isinstance(v, (int, float)) and k != "step":
                    writer.add_scalar(f"{row['split']}/{k}", v, self.step)
            writer.flush()


def _plain(obj):
    """JSON-like primitives only (what weights_only=True loads back)."""
    return json.loads(json.dumps(obj))
