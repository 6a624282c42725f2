"""Drafters: `none` (plain decoding), `ngram` (prompt lookup), and trained checkpoints
(DSpark, DFlash, Eagle3, MTP), all behind the protocol in base.py."""
from __future__ import annotations

import importlib
from pathlib import Path

from ..errors import DSparkError
from .base import Drafter, Proposal
from .ngram import NgramDrafter

# Importing a drafter module registers its algorithm with the checkpoint loader.
for _name in ("dflash", "dspark", "eagle3", "mtp"):
    try:
        importlib.import_module(f"{__name__}.{_name}")
    except ModuleNotFoundError as e:  # a module not written yet must not break the others
        if e.name != f"{__name__}.{_name}":
            raise

# Committed drafters live in <repo>/checkpoints/<algorithm>-<target>/.
CHECKPOINT_DIR = Path(__file__).resolve().parents[3] / "checkpoints"


def default_drafter_path(target_name: str) -> Path | None:
    p = CHECKPOINT_DIR / f"dspark-{target_name}"
    return p if (p / "config.json").exists() else None


def load(spec: str, target, gamma: int | None = None):
    """spec: 'default' | 'none' | 'ngram' | a checkpoint directory. gamma sets the n-gram block;
    a trained drafter's block size is fixed by its checkpoint (policies may verify fewer)."""
    if spec == "default":
        path = default_drafter_path(target.name)
        spec = str(path) if path else "ngram"
    if spec == "none":
        return Drafter()
    if spec == "ngram":
        return NgramDrafter(gamma=gamma or 7)
    path = Path(spec)
    if not path.exists():
        raise DSparkError(f"unknown drafter {spec!r}: use none, ngram, default or a checkpoint directory")
    from .checkpoint import load_drafter
    return load_drafter(path, target)


__all__ = ["Drafter", "Proposal", "NgramDrafter", "load", "default_drafter_path", "CHECKPOINT_DIR"]
