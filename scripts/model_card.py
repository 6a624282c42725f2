"""Write the model card (README.md) of a trained drafter from its run's own records: the training
config, the training log (steps, tokens, wall time) and `deepspec eval` results.

    python scripts/model_card.py --run runs/dspark-smollm2-135m --out checkpoints/dspark-smollm2-135m \
        --eval runs/eval-smollm2-t0 --eval runs/eval-smollm2-t1 [--copy]

--copy also copies the run's final drafter (config.json, model.safetensors, calibration.json when
present) into --out, so the committed directory is exactly what the card describes; with --fp16 its
floating-point weights are stored in fp16 (half the bytes in git; a drafter loads in the target's
dtype, and on the fast CPU runtime its products run on 8-bit weights anyway).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path



def reproduce_command(cfg: dict, run: Path) -> str:
    """The pipeline step that trains this run: scripts/reproduce-smollm2.sh for smollm2-135m,
    scripts/reproduce-gemma3.sh for gemma3-270m, scripts/train-smollm2-24k.sh for the runs on the
    24k data (the step is named after the run: train-dspark1c for dspark1c-smollm2-135m-24k)."""
    cache = "" if cfg["data"].get("features") == "online" else "cache "   # online features need no cache
    if "data/regen/smollm2-135m-24k" in cfg["data"].get("paths", []):
        script = "scripts/train-smollm2-24k.sh"
        return f'STEPS="{cache}train-{run.name.split("-")[0]}" {script}   # or the whole pipeline: {script}'
    if cfg.get("init_from"):     # trained on from another drafter, over stores of its own: its config
        feats = "" if cfg["data"].get("features") == "online" else " data.features=CACHE"
        return (f"deepspec train --config configs/{run.name}.toml{feats}   # the stores under Data answered "
                f"first (scripts/regen-smollm2-*.sh), and {cfg['init_from']} as it was committed")
    script = f"scripts/reproduce-{cfg['target'].split('-')[0]}.sh"
    return f'STEPS="cache train-{cfg["algorithm"]}" {script}   # or the whole pipeline: {script}'


def generation_text(cfg: dict, trained: int | None = None) -> str:
    """The sampling settings of the regenerated data and what its stores hold, from their shard
    manifests (older single-file data: the settings of that time); `trained`: how many samples the
    run trained on, when the stores have grown since."""
    manifests = [Path(p) / "manifest.json" for p in cfg["data"]["paths"]]
    if not manifests or not all(m.exists() for m in manifests):
        return "T 0.7, top-p 0.8, top-k 20, up to 320 new tokens"
    ms = [json.loads(m.read_text()) for m in manifests]
    settings = lambda g: (f"T {g['temperature']}, top-p {g['top_p']}, top-k {g['top_k']}, "   # noqa: E731
                          f"up to {g['max_new_tokens']} new tokens")
    kinds = list(dict.fromkeys(settings(m["generation"]) for m in ms))
    if len(kinds) == 1:
        text = kinds[0]
    else:   # e.g. a greedy held-out store after sampled training stores: each setting with its stores
        text = "; ".join(f"{k} ({', '.join(Path(p).name for p, m in zip(cfg['data']['paths'], ms) if settings(m['generation']) == k)})"
                         for k in kinds)
    text += (f"; {sum(m['conversations'] for m in ms):,} conversations, "
             f"{sum(m['answer_tokens'] for m in ms):,} answer tokens")
    if trained is not None:
        text += f" in the store{'s' if len(ms) > 1 else ''} now; the run trained on {trained:,} of them"
    return text


def trained_samples(run: Path) -> int | None:
    """The number of training samples of the run's last checkpoint (its trainer state), None
    without one."""
    states = sorted(run.glob("checkpoints/step_*/trainer_state.pt"))
    if not states:
        return None
    import torch
    return int(torch.load(states[-1], map_location="cpu", weights_only=True)["data"]["num_samples"])


def features_text(cfg: dict) -> str:
    features = cfg["data"]["features"]
    if features == "online":
        return "computed online by the target during training"
    manifest = Path(features) / "manifest.json"
    dtype = json.loads(manifest.read_text()).get("dtype", "?") if manifest.exists() else "?"
    return f"cached by `deepspec cache` in {dtype} (`{features}`)"


def log_rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines() if line.strip()]


def heldout_summary(rows: list[dict]) -> str | None:
    held = [r for r in rows if r.get("split") == "heldout"]
    if not held:
        return None
    last = held[-1]
    return (f"- Held-out ({last.get('samples', '?')} conversations never trained on, forward only) at step "
            f"{last['step']}: simulated tau {last['tau_sim']:.3f}, acceptance at position 1 "
            f"{last['accept_rate@1']:.3f}.")


def copy_drafter(run: Path, out: Path, fp16: bool) -> None:
    import torch
    from dspark.files import load_safetensors, save_safetensors
    out.mkdir(parents=True, exist_ok=True)
    for f in ("config.json", "calibration.json"):
        if (run / "final" / f).exists():
            shutil.copy2(run / "final" / f, out / f)
    if not fp16:
        shutil.copy2(run / "final" / "model.safetensors", out / "model.safetensors")
        return
    weights = load_safetensors(run / "final" / "model.safetensors")
    # the metadata the trainer's carry writes: the same tensors then make the same bytes (one git blob)
    save_safetensors({k: v.half() if v.is_floating_point() else v for k, v in weights.items()},
                     out / "model.safetensors", metadata={"format": "pt"})


def _calibration_method(out: Path) -> str:
    calib = json.loads((out / "calibration.json").read_text())
    names = {"sts": "STS (a temperature per position)",
             "sts-bias": "STS with a bias per position (c_k = sigmoid(z_k / T_k + b_k))",
             "sts-beta": "STS with a bias and a curvature per position (c_k = sigmoid(z_k / T_k + b_k + "
                         "e_k 2 log cosh(z_k / 2)))"}
    top = calib.get("method", "sts")
    text = names.get(top, top)

    def scored(c: dict) -> str:
        """rounds, and the ECE after calibration on the share of them it was not fitted on (on the
        fit rounds themselves when it kept none back); the method when it is not the top level's"""
        ece = [f"{100 * e:.2f}" for e in c.get("ece_after") or [] if e is not None]
        where = "the held-out half" if c.get("holdout_fraction", 0.5) else "its own fit rounds (all of them fitted)"
        held_out = f"; ECE on {where} {' / '.join(ece)} %" if ece else ""
        online = (f"; then online rate {c['online_rate']}: each request's confidences follow its own "
                  f"verified rounds" if c.get("online_rate") else "")
        method = f"{c['method']}, " if c.get("method", top) != top else ""
        return f"{method}{c.get('num_rounds', 0):,} rounds{online}{held_out}"

    text += f" fitted on sampled rounds ({scored(calib)})"
    for key, fit in (calib.get("by_temperature") or {}).items():   # a request takes the nearest temperature's fit
        text += f"; for requests sampled nearer T {key} than the other fits, one on rounds sampled at T {key} ({scored(fit)})"
    if calib.get("greedy"):
        text += (f", and a separate fit for greedy requests "
                 f"({scored(calib['greedy'])}, T = 0)")
    if behind := calib.get("behind_lookup"):
        # the section holds only the regimes it was fitted for; the others keep the fits above
        fits = ([f"sampled: {scored(behind)}"] if behind.get("temperatures") else []) + (
            [f"greedy: {scored(behind['greedy'])}"] if behind.get("greedy") else []) + (
            [f"sampled at T {key}: {scored(fit)}" for key, fit in (behind.get("by_temperature") or {}).items()])
        text += (f"; behind n-gram lookup (`ngram+dspark`, where the drafter drafts only what lookup leaves it) "
                 f"its own fit, `behind_lookup` ({'; '.join(fits)})")
    return text


def _stored_fp16(out: Path) -> bool:
    from safetensors import safe_open
    with safe_open(out / "model.safetensors", "pt") as f:
        return any(f.get_slice(k).get_dtype() == "F16" for k in f.keys())


def hardware_text(hardware: list[str], cfg: dict) -> str:
    """Where the steps ran: the log rows say since session 29; older runs all trained on 2 CPU cores."""
    if hardware:
        return "on " + ", then ".join(hardware)
    return (f"on 2 CPU cores (precision {cfg.get('precision', 'fp32')}: bf16 autocast where the CPU has "
            "AVX-512 BF16 or AMX, else fp32)")


def training_summary(run: Path, rows: list[dict] | None = None) -> dict:
    """From the run's log rows (read from run/train_log.jsonl unless given)."""
    rows = [r for r in (log_rows(run) if rows is None else rows)
            if r.get("split", "train") == "train"]   # held-out evaluations are not steps
    rows = list({r["step"]: r for r in rows}.values())   # a step redone after a resume counts once
    if not rows:
        raise SystemExit(f"model_card: {run}/train_log.jsonl is empty")
    rows.sort(key=lambda r: r["step"])
    last = rows[-1]
    # a row sums the steps since the one before it (logging.log_every), each s_per_step long
    covered = [r["step"] - prev["step"] for prev, r in zip([{"step": 0}] + rows, rows)]
    hardware = list(dict.fromkeys(r["hardware"] for r in rows if r.get("hardware")))
    return {"steps": last["step"], "epochs": last.get("epoch"),
            "tokens": sum(r.get("tokens", 0) for r in rows),
            "supervised_slots": sum(r.get("supervised_slots", 0) for r in rows),
            "wall_s": sum(r.get("s_per_step", 0.0) * n for r, n in zip(rows, covered)),
            "hardware": hardware,
            "final_loss": sum(r["loss"] for r in rows[-20:]) / len(rows[-20:]),
            "final_tau_sim": sum(r.get("tau_sim", 0.0) for r in rows[-20:]) / len(rows[-20:])}


def results_table(evals: list[Path], names: list[str], with_ece: bool = True) -> list[str]:
    """Table 1 rows of the drafter in each eval directory, found under the first of `names` there
    (the run's name, or the shipped directory's when the eval read the shipped drafter). with_ece:
    also the ECE the eval computed with the calibration of its time (off when `--score` files score
    the shipped one)."""
    lines = []
    for ev in evals:
        res = json.loads((ev / "results.json").read_text())
        entry = next((res["drafters"][n] for n in names if n in res["drafters"]), None)
        if entry is None:
            continue
        # behind n-gram lookup: the default drafter, or ngram+ this drafter, when the eval ran it
        behind = next((res["drafters"][n] for n in ["default"] + [f"ngram+{m}" for m in names]
                       if n in res["drafters"]), None)
        st = res["settings"]
        lines += [f"`deepspec eval` at T = {st['temperature']} ({st['policy']} block, {st['max_new_tokens']} new tokens, "
                  f"prompts per set: {max(st['datasets'].values())}, batch {st['batch']}; `{ev}`):", "",
                  "| dataset | tau | acceptance at positions 1..gamma |", "|---|---|---|"]
        for ds, s in entry["datasets"].items():
            acc = " ".join("-" if a is None else f"{a:.2f}" for a in s["accept_rate"])
            lines.append(f"| {ds} | {s['tau']:.2f} | {acc} |")
        lines += [f"| **macro** | {entry['macro']['tau']:.2f} | |", ""]
        if with_ece and (ece := _calibrated_ece(entry)):
            lines += [f"ECE of the calibrated prefix-survival estimate on these rounds, {ece}.", ""]
        if behind:
            ece = _calibrated_ece(behind) if with_ece else None
            lines += [f"Behind n-gram lookup (`ngram+dspark`, the default drafter) on the same prompts: macro tau "
                      f"{behind['macro']['tau']:.2f}." + (f" ECE of its calibrated estimate on its own rounds, {ece}."
                                                          if ece else ""), ""]
    return lines


def score_lines(paths: list[Path]) -> list[str]:
    """The shipped calibration scored by `deepspec calibrate --score` on rounds no fit saw, a line each."""
    if not paths:
        return []
    lines = ["The calibration as the runtime applies it, scored with no fit (`deepspec calibrate --score`) on "
             "the rounds of every prompt above, none of them in a fit:", ""]
    for path in paths:
        sc = json.loads(path.read_text())
        after = sc["after"]
        ece = " / ".join("-" if e is None else f"{100 * e:.2f}" for e in after["ece"])
        lines.append(f"- {sc['regime']}{', behind n-gram lookup' if sc['behind_lookup'] else ', alone'}: "
                     f"{after['n'][0]:,} rounds at position 1, ECE at positions 1-{len(after['ece'])} {ece} % "
                     f"(a perfectly calibrated head: {100 * after['ece_floor'][0]:.2f} % at position 1; `{path}`).")
    return lines + [""]


def _calibrated_ece(entry: dict) -> str | None:
    """'positions 1-7: 1.60 / ... %' of an eval entry's calibrated confidences, None without them."""
    conf = (entry.get("confidence") or {}).get("calibrated")
    if not conf:
        return None
    ece = " / ".join("-" if e is None else f"{100 * e:.2f}" for e in conf["ece"])
    return f"positions 1-{len(conf['ece'])}: {ece} %"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", required=True, type=Path, help="training run directory (out_dir of the config)")
    ap.add_argument("--out", required=True, type=Path, help="drafter directory the card is written into")
    ap.add_argument("--eval", action="append", default=[], type=Path, help="deepspec eval output directories")
    ap.add_argument("--score", action="append", default=[], type=Path,
                    help="score.json files of `deepspec calibrate --score` (the calibration on prompts no fit saw)")
    ap.add_argument("--config", type=Path, help="the TOML config (default: configs/<run name>.toml)")
    ap.add_argument("--copy", action="store_true", help="copy the run's final drafter into --out first")
    ap.add_argument("--fp16", action="store_true", help="with --copy: store the weights in fp16")
    args = ap.parse_args()

    run, out = args.run, args.out
    cfg = json.loads((run / "config.json").read_text())
    toml = args.config or Path("configs") / f"{run.name}.toml"
    if args.copy:
        copy_drafter(run, out, args.fp16)
    drafter = json.loads((out / "config.json").read_text())
    rows = log_rows(run)
    t = training_summary(run, rows)
    d, b, o = cfg["drafter"], cfg["batch"], cfg["optimizer"]
    calibrated = (out / "calibration.json").exists()
    lines = [
        f"# {run.name}: {cfg['algorithm']} drafter for {cfg['target']}", "",
        f"A `{cfg['algorithm']}` draft model for lossless speculative decoding of `{cfg['target']}` with DSpark "
        f"(`dspark generate --drafter {cfg['algorithm']}` loads it from checkpoints/, or `--drafter {out}`). "
        "Output is exactly the target's: the drafter only changes speed.", "",
        "## What it is", "",
        f"- Block size (gamma) {drafter['config'].get('block_size')}, "
        f"{drafter['config'].get('num_layers', 1)} draft layer(s), target tap layers "
        f"{drafter['config'].get('tap_layers') or drafter['target'].get('tap_layers')}"
        + ("; draft layers in the engines' (Qwen3) form, so `deepspec export` writes it for vLLM, SGLang, "
           "speculators and DeepSpec (docs/INTEROP.md)." if drafter["config"].get("layer_form") == "engine" else "."),
        (f"- Draft vocabulary: the {drafter['config']['draft_vocab_size']:,} most frequent answer tokens of the "
         f"target's {drafter['target']['vocab_size']:,} (`d2t`/`t2d` in the weights); "
         if drafter["config"].get("draft_vocab_size") else "- The target's full vocabulary; ")
        + "embedding and LM head are the target's, not stored here.",
    ]
    if cfg["algorithm"] == "dspark":
        lines.append(f"- Markov head rank {d.get('markov_rank')} ({d.get('markov_head_type')}), confidence head "
                     f"{'on' if d.get('enable_confidence_head') else 'off'}"
                     + (f"; calibration: {_calibration_method(out)}; in `calibration.json`, applied at load."
                        if calibrated else "."))
    lines += ["", "## Data", "",
              f"- {', '.join(cfg['data']['paths'])}: answers regenerated by the target itself "
              f"(`deepspec regenerate`, {generation_text(cfg, trained_samples(run))}) for prompts from "
              "`deepspec prompts` (disjoint from the benchmark sets; provenance in data/prompts/SOURCES.md).",
              f"- Target features {features_text(cfg)}, max length {cfg['data']['max_len']}; the last "
              f"{cfg['data'].get('holdout', 0)} conversations held out.", "",
              "## Recipe", "",
              f"- Config: `{toml}` (loss weights {json.dumps({k: v for k, v in cfg['loss'].items() if v is not None})}).",
              *([f"- Started from `{cfg['init_from']}` (`init_from`): this run trained on from that drafter's weights "
                 "and draft vocabulary; the figures below are this run's alone, the earlier run's are in its own "
                 "config and card."] if cfg.get("init_from") else []),
              f"- {t['steps']} steps of {b['sequences']} sequences, {b['anchors_per_seq']} anchors per sequence; "
              f"AdamW lr {o['lr']}, warm-up {cfg['schedule']['warmup_ratio']:.0%}, cosine to 0.",
              f"- {t['epochs']:.1f} epochs, {t['tokens']:,} sequence tokens read, {t['supervised_slots']:,} supervised "
              f"draft slots, {t['wall_s'] / 60:.1f} min of training {hardware_text(t['hardware'], cfg)}.",
              f"- Last 20 steps: loss {t['final_loss']:.3f}, simulated tau {t['final_tau_sim']:.2f}.",
              *([held] if (held := heldout_summary(rows)) else []),
              *(["- Weights stored in fp16 (`--fp16`); they load in the target's dtype."]
                if _stored_fp16(out) else []), "",
              "## Results", ""]
    lines += results_table(args.eval, [run.name, out.name], with_ece=not args.score) or ["(not evaluated yet)", ""]
    lines += score_lines(args.score)
    lines += ["## Reproduce", "", "```bash", reproduce_command(cfg, run), "```", "",
              "Licence: the weights derive from SmolLM2-135M-Instruct outputs (Apache-2.0)." if "smollm2" in cfg["target"]
              else "Licence: a drafter distilled from Gemma outputs carries the Gemma Terms of Use.", ""]
    (out / "README.md").write_text("\n".join(lines))
    print(f"wrote {out / 'README.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
