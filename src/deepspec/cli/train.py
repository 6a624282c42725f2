"""`deepspec train`: train a drafter from a TOML config (see deepspec/train/trainer.py)."""
from __future__ import annotations

import json

from dspark.errors import DSparkError

from ..train.config import load_config
from ..train.trainer import Trainer


def add_arguments(p) -> None:
    p.add_argument("--config", required=True, help="training config (TOML)")
    p.add_argument("--resume", choices=("auto", "never"), default="auto",
                   help="auto: continue from out_dir/checkpoints/latest when there is one (default); "
                        "never: start over (deletes the run's checkpoints and logs)")
    p.add_argument("--max-steps", type=int, default=None,
                   help="train for this many steps in total (sets schedule.total_steps)")
    p.add_argument("--write-carry", action="store_true",
                   help="write logging.carry_dir from the run's newest checkpoint and exit (no training): "
                        "the compact copy to commit before leaving a machine")
    p.add_argument("--eval-only", action="store_true",
                   help="score the weights the run would continue from (its newest checkpoint or carry, else "
                        "init_from) on the config's held-out samples, print the row as JSON and exit; writes "
                        "nothing. With other data: data.paths=[...] data.holdout=N data.features=online")
    p.add_argument("overrides", nargs="*", metavar="section.key=value",
                   help="config overrides, e.g. batch.sequences=16 data.max_len=512")


def run(args) -> int:
    overrides = list(args.overrides or [])
    if args.max_steps is not None:
        if args.max_steps < 1:
            raise DSparkError("--max-steps must be >= 1")
        overrides.append(f"schedule.total_steps={args.max_steps}")
    cfg = load_config(args.config, overrides)
    if args.write_carry:
        return write_carry_now(cfg)
    if args.eval_only:
        print(json.dumps(Trainer(cfg, eval_only=True).evaluate_only()))
        return 0
    Trainer(cfg, resume=args.resume).run()
    return 0


def write_carry_now(cfg) -> int:
    from pathlib import Path

    from ..train.checkpoints import find_latest, write_carry
    from ..train.trainer import LOG_FILE
    if not cfg.logging.carry_dir:
        raise DSparkError(f"{cfg.out_dir}: the config sets no logging.carry_dir")
    out = Path(cfg.out_dir)
    latest = find_latest(out / "checkpoints")
    if latest is None:
        raise DSparkError(f"{out / 'checkpoints'} holds no complete checkpoint to carry")
    carry = write_carry(latest, out / LOG_FILE, Path(cfg.logging.carry_dir))
    size = sum(f.stat().st_size for f in carry.iterdir())
    print(f"{latest} -> {carry} ({size / 2**20:.1f} MiB)")
    return 0
