"""`deepspec calibrate`: fit sequential temperature scaling (STS; by default with a per-position bias)
for a drafter's confidence head on recorded rounds, score it on held-out rounds, and write
calibration.json into the drafter. With --score, no fit: the drafter's calibration.json as the
runtime applies it, scored on the rounds given (e.g. pooled from several evaluations that no fit saw)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from dspark.errors import DSparkError

from ..eval import plots
from ..eval.calibration import (METHODS, ONLINE_RATES, REGIMES, calibrate, save_calibration, score_calibration,
                               split_records)
from ..eval.metrics import load_records, rounds_digest


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--records", nargs="+", action="extend", required=True, metavar="FILE.jsonl",
                        help="round records (deepspec eval --out DIR writes DIR/rounds/<drafter>/<dataset>.jsonl); "
                             "several files are pooled")
    parser.add_argument("--drafter", metavar="PATH",
                        help="drafter directory: calibration.json is written into it")
    parser.add_argument("--holdout-fraction", type=float, default=0.5,
                        help="share of rounds held out to score before/after (default 0.5; 0 = score on the fit rounds)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fit/holdout split (default 0)")
    parser.add_argument("--gamma", type=int, default=None,
                        help="number of draft slots to calibrate (default: the longest verified in the records)")
    parser.add_argument("--method", choices=METHODS, default="sts-bias",
                        help="sts-bias (default): a temperature and a bias per position, fitted by likelihood; "
                             "sts-beta: and a curvature per position (beta calibration: one slope for the "
                             "head's confident logits, another for its unsure ones); "
                             "sts: the paper's temperature only, fitted by ECE")
    parser.add_argument("--regime", choices=REGIMES, default="sampled",
                        help="how the rounds were verified: sampled (temperature > 0, the default) or greedy "
                             "(temperature 0, a draft token survives only as the target's argmax); each "
                             "regime has its own entry in calibration.json and the other one is kept")
    parser.add_argument("--temperature", type=float, default=1.0, metavar="T",
                        help="the sampling temperature of sampled rounds (default 1): a fit at another "
                             "temperature goes into calibration.json's \"by_temperature\" section, and a "
                             "sampled request gets the fit whose temperature is nearest its own; with "
                             "--score, the fit such a request gets is scored")
    parser.add_argument("--behind-lookup", action="store_true",
                        help="the records come from the drafter behind n-gram lookup (deepspec eval --drafter "
                             "ngram+DIR): write the fit into calibration.json's \"behind_lookup\" section, "
                             "which the runtime uses there, and keep the rest of the file")
    parser.add_argument("--online-rate", type=float, default=None, metavar="R",
                        help="step of each request's online correction at run time (0 = off; default: the rate "
                             "of %s with the best likelihood on the fit rounds, when the records carry request ids)"
                             % ", ".join(map(str, ONLINE_RATES)))
    parser.add_argument("--score", action="store_true",
                        help="fit nothing: score the --drafter's calibration.json on the records, as the runtime "
                             "applies it to --regime requests (behind lookup with --behind-lookup), with its "
                             "online rate; --out then gets score.json and a reliability diagram")
    parser.add_argument("--out", metavar="DIR", help="write reliability diagrams and a threshold sweep here")


def _where(args: argparse.Namespace) -> str:
    """Which fit: "sampled at T 0.7, behind lookup", "greedy", ..."""
    t = f" at T {args.temperature:g}" if args.regime == "sampled" else ""
    return f"{args.regime}{t}{', behind lookup' if args.behind_lookup else ''}"


def _pct(x: float | None) -> str:
    return "   -  " if x is None else f"{100 * x:5.2f}%"


def _fmt_auc(x: float | None) -> str:
    return "  -  " if x is None else f"{x:.3f}"


def _check_records_drafter(args: argparse.Namespace) -> None:
    """Refuse records that another drafter drafted: a fit on them calibrates the wrong head, a score
    on them measures nothing. Records written without a digest (before it existed) pass."""
    if not args.drafter or not (Path(args.drafter) / "model.safetensors").is_file():
        return
    from dspark.drafters.checkpoint import checkpoint_digest
    own = checkpoint_digest(args.drafter)
    for f in args.records:
        try:
            theirs = rounds_digest(Path(f).parent)
        except ValueError as e:
            raise DSparkError(str(e)) from None
        if theirs is not None and theirs != own:
            raise DSparkError(f"records {f} were drafted by other weights (digest {theirs}) than the drafter "
                              f"{args.drafter} (digest {own}): calibrate a drafter on its own rounds only")


def run(args: argparse.Namespace) -> int:
    for f in args.records:
        if not Path(f).is_file():
            raise DSparkError(f"records file {f} does not exist")
    _check_records_drafter(args)
    if args.online_rate is not None and not 0.0 <= args.online_rate <= 1.0:
        raise DSparkError(f"--online-rate must be in [0, 1], got {args.online_rate}")
    if not args.temperature > 0:
        raise DSparkError(f"--temperature must be > 0 (greedy rounds are --regime greedy), got {args.temperature}")
    if args.regime == "greedy" and args.temperature != 1.0:
        raise DSparkError("--temperature is for --regime sampled (greedy rounds have one fit)")
    if args.score:
        return _score(args)
    try:
        records = load_records(args.records)
        result = calibrate(records, gamma=args.gamma, holdout_fraction=args.holdout_fraction,
                           seed=args.seed, return_data=True, method=args.method, online_rate=args.online_rate)
    except ValueError as e:
        raise DSparkError(str(e)) from None

    where = "held-out" if args.holdout_fraction > 0 else "fit (no holdout)"
    print(f"{result['method']} on {result['num_fit_rounds']} rounds, scored on {result['num_eval_rounds']} "
          f"{where} rounds ({result['num_rounds']} rounds with confidences in {len(args.records)} file(s))")
    rate = result["online_rate"]
    if result["online_rate_nll"]:
        print("online rate, by the NLL of the fit rounds: " + ", ".join(
            f"{r}: {'-' if v is None else f'{v:.4f}'}" for r, v in result["online_rate_nll"].items()) + f" -> {rate}")
    elif args.online_rate is None:
        print("online rate 0: the records carry no request ids (written before they existed)")
    bends = result.get("curvatures") or [0.0] * len(result["temperatures"])
    print(f"{'pos':>3} {'n':>7} {'T':>7} {'b':>7} {'e':>7} {'ECE before':>11} {'ECE fixed':>10} {'ECE after':>10} "
          f"{'noise floor':>12} {'AUC before':>11} {'AUC after':>10}")
    for i, (t, b, e) in enumerate(zip(result["temperatures"], result["biases"], bends)):
        print(f"{i + 1:>3} {result['n_eval'][i]:>7} {t:7.3f} {b:+7.3f} {e:+7.3f} {_pct(result['ece_before'][i]):>11} "
              f"{_pct(result['ece_after_fixed'][i]):>10} {_pct(result['ece_after'][i]):>10} "
              f"{_pct(result['ece_floor_after'][i]):>12} "
              f"{_fmt_auc(result['auc_before'][i]):>11} {_fmt_auc(result['auc_after'][i]):>10}")
    print("ECE fixed: the fitted temperatures, biases and curvatures (e) alone; "
          f"after: with the online correction (rate {rate})")
    print("noise floor: the ECE a perfectly calibrated head would show on these rounds (simulated outcomes)")
    print(f"mean ECE over positions: {_pct(result['ece_mean_before']).strip()} -> "
          f"{_pct(result['ece_mean_after']).strip()};  pooled ECE: {_pct(result['ece_pooled_before']).strip()} -> "
          f"{_pct(result['ece_pooled_after']).strip()}")

    if args.drafter:
        path = save_calibration(result, args.drafter, args.regime, behind_lookup=args.behind_lookup,
                                temperature=args.temperature)
        print(f"wrote {path} ({_where(args)})")
    else:
        print("no --drafter given: calibration.json not written")

    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        p1 = plots.plot_reliability_pair(result["_data_before"], result["_data_after"],
                                         out / "reliability.png",
                                         title=f"Prefix survival before/after {result['method']}")
        rows = [r for r in records if r.confidence_logits is not None]
        # the online offsets replay whole requests: with them the sweep reads every round
        hold = split_records(rows, args.holdout_fraction, args.seed)[1] if not rate else []
        p2 = plots.plot_threshold_sweep(hold or rows, [i / 10 for i in range(10)], out / "threshold_sweep.png",
                                        temperatures=result["temperatures"], biases=result["biases"],
                                        online_rate=rate, curvatures=result.get("curvatures"))
        print(f"wrote {p1}\nwrote {p2}")
    return 0


def _score(args: argparse.Namespace) -> int:
    if not args.drafter:
        raise DSparkError("--score needs --drafter: the drafter whose calibration.json is scored")
    if args.online_rate is not None:
        raise DSparkError("--score applies the calibration's own online rate: drop --online-rate")
    try:
        result = score_calibration(load_records(args.records), args.drafter, args.regime, args.behind_lookup,
                                   temperature=args.temperature)
    except ValueError as e:
        raise DSparkError(str(e)) from None
    where = _where(args)
    print(f"{args.drafter}: its calibration ({where}, online rate {result['online_rate']}) scored on "
          f"{result['num_rounds']} rounds in {len(args.records)} file(s); no fit")
    before, after = result["before"], result["after"]
    print(f"{'pos':>3} {'n':>7} {'T':>7} {'b':>7} {'e':>7} {'predicted':>10} {'realized':>9} {'ECE raw':>8} {'ECE':>7} "
          f"{'noise floor':>12} {'AUC':>6}")
    for i, j in enumerate(after["position"]):
        t, b, e = (result[k][j - 1] for k in ("temperatures", "biases", "curvatures"))
        print(f"{j:>3} {after['n'][i]:>7} {t:7.3f} {b:+7.3f} {e:+7.3f} {after['mean_predicted'][i]:10.3f} "
              f"{after['mean_realized'][i]:9.3f} {_pct(before['ece'][i]):>8} {_pct(after['ece'][i]):>7} "
              f"{_pct(after['ece_floor'][i]):>12} {_fmt_auc(after['auc'][i]):>6}")
    print(f"max ECE over positions: {_pct(max((e for e in after['ece'] if e is not None), default=None)).strip()}; "
          "noise floor: what a perfectly calibrated head would score on these rounds")
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        clean = {k: v for k, v in result.items() if not k.startswith("_")}
        (out / "score.json").write_text(json.dumps({**clean, "records": list(args.records)}, indent=2) + "\n")
        p = plots.plot_reliability_pair(result["_data_before"], result["_data_after"], out / "reliability.png",
                                        title=f"Prefix survival, raw and calibrated ({where})")
        print(f"wrote {out / 'score.json'}\nwrote {p}")
    return 0
