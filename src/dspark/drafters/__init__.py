"""Drafters: `none` (plain decoding), `ngram` (prompt lookup), and trained checkpoints
(DSpark, DFlash, Eagle3, MTP), all behind the protocol in base.py."""
from __future__ import annotations

import importlib
from pathlib import Path

from ..errors import DSparkError
from .base import Drafter, Proposal
from .ngram import LookupFirst, NgramDrafter

# The trained kinds. Importing a drafter module registers its algorithm with the checkpoint loader.
TRAINED = ("dspark", "dflash", "eagle3", "mtp")
for _name in TRAINED:
    try:
        importlib.import_module(f"{__name__}.{_name}")
    except ModuleNotFoundError as e:  # a module not written yet must not break the others
        if e.name != f"{__name__}.{_name}":
            raise

# Committed drafters live in <repo>/checkpoints/<algorithm>-<target>/ and load by algorithm name
# (`--drafter dspark`, `--drafter mtp`).
CHECKPOINT_DIR = Path(__file__).resolve().parents[3] / "checkpoints"

# What `default` means for a target: the drafter that decodes fastest at batch 1 on the machines we
# measure on (benchmarks/decode_speed.py, README "Results"). A target without an entry gets n-gram
# lookup, which needs no training. SmolLM2 (RESULTS.md, session 16; 2-core EPYC, batch 1, greedy, 10
# math and code prompts, dspark policy, one interleaved run): n-gram lookup first and the committed
# 2-layer DSpark drafter elsewhere 1.42x plain decoding (tau 2.49), the DSpark drafter alone 1.33x,
# n-gram lookup alone 1.36x. Session 14's 1-layer drafter had lost to n-gram lookup (1.17-1.23x
# with lookup first against 1.23-1.30x).
LOOKUP_FIRST = "ngram+"     # `ngram+dspark`: n-gram lookup first, the trained drafter elsewhere
DEFAULT_DRAFTERS: dict[str, str] = {"smollm2-135m": LOOKUP_FIRST + "dspark"}
DEFAULT_DRAFTER = "ngram"


def default_drafter(target_name: str) -> str:
    """The drafter spec `default` stands for with this target."""
    return DEFAULT_DRAFTERS.get(target_name, DEFAULT_DRAFTER)


def committed_drafter_path(algorithm: str, target_name: str) -> Path | None:
    p = CHECKPOINT_DIR / f"{algorithm}-{target_name}"
    return p if (p / "config.json").exists() else None


def load(spec: str, target, gamma: int | None = None):
    """spec: 'default' | 'none' | 'ngram' | 'dspark' | 'dflash' | 'eagle3' | 'mtp' (the committed
    drafter of that kind for the target) | a checkpoint directory | 'ngram+' followed by one of the
    trained ones (n-gram lookup where the context repeats, that drafter elsewhere: LookupFirst).
    gamma sets the n-gram block; a trained drafter's block size is fixed by its checkpoint
    (policies may verify fewer)."""
    if spec == "default":
        spec = default_drafter(target.name)
    if spec.startswith(LOOKUP_FIRST):
        inner = load(spec[len(LOOKUP_FIRST):], target, gamma)
        if inner.gamma < 1 or isinstance(inner, (NgramDrafter, LookupFirst)):
            raise DSparkError(f"{spec!r}: after '{LOOKUP_FIRST}' name a trained drafter (one of "
                              f"{', '.join(TRAINED)} or a checkpoint directory)")
        return LookupFirst(inner)
    if spec == "none":
        return Drafter()
    if spec == "ngram":
        return NgramDrafter(gamma=gamma or 7)
    if spec in TRAINED and not Path(spec).exists():
        path = committed_drafter_path(spec, target.name)
        if path is None:
            # the target family's pipeline script, when the repository has one (reproduce-gemma3.sh, ...)
            script = CHECKPOINT_DIR.parent / "scripts" / f"reproduce-{target.name.split('-')[0]}.sh"
            how = f"configs/, scripts/{script.name}" if script.exists() else "configs/"
            raise DSparkError(f"no committed {spec} drafter for {target.name} (checkpoints/{spec}-{target.name}); "
                              f"train one ({how}) and pass its directory")
        spec = str(path)
    path = Path(spec)
    if not path.exists():
        raise DSparkError(f"unknown drafter {spec!r}: use none, ngram, default, {', '.join(TRAINED)}, "
                          f"a checkpoint directory, or ngram+ before a trained one")
    from .checkpoint import load_drafter
    return load_drafter(path, target)


__all__ = ["Drafter", "Proposal", "NgramDrafter", "LookupFirst", "load", "committed_drafter_path", "CHECKPOINT_DIR",
           "DEFAULT_DRAFTER", "DEFAULT_DRAFTERS", "default_drafter"]
