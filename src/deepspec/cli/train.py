"""`deepspec train`: train a drafter from a TOML config (see deepspec/train/trainer.py)."""
from __future__ import annotations

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
    p.add_argument("overrides", nargs="*", metavar="section.key=value",
                   help="config overrides, e.g. batch.sequences=16 data.max_len=512")


def run(args) -> int:
    overrides = list(args.overrides or [])
    if args.max_steps is not None:
        if args.max_steps < 1:
            raise DSparkError("--max-steps must be >= 1")
        overrides.append(f"schedule.total_steps={args.max_steps}")
    cfg = load_config(args.config, overrides)
    Trainer(cfg, resume=args.resume).run()
    return 0
