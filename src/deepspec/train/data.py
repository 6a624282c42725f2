"""What a training run draws: the tokenized samples, a deterministic epoch sampler whose position is
checkpointed, seeds derived from (seed, epoch, index), and the learning-rate schedule."""
from __future__ import annotations

import hashlib
import math

import torch

from dspark.errors import DSparkError
from deepspec.data.tokenize import TokenizedSample, load_tokenized

from .config import TrainConfig


def load_samples(cfg: TrainConfig, tokenizer, vocab_size: int) -> tuple[list[TokenizedSample], dict]:
    stats: dict = {}
    samples: list[TokenizedSample] = []
    sources = [(p, tokenizer) for p in cfg.data.paths] + [(p, None) for p in cfg.data.tokenized]
    for p, tok in sources:
        left = cfg.data.limit - len(samples) if cfg.data.limit else None
        if left is not None and left <= 0:
            break
        samples += load_tokenized(p, tok, cfg.data.max_len, vocab_size, stats, limit=left)
    seen: set[str] = set()
    for s in samples:
        if s.id in seen:
            raise DSparkError(f"sample id {s.id!r} appears in more than one data file")
        seen.add(s.id)
    if not samples:
        files = ", ".join(cfg.data.paths + cfg.data.tokenized)
        raise DSparkError(f"no usable training samples in {files}: {stats.get('lines', 0)} lines, none with "
                          f"two consecutive loss tokens within max_len {cfg.data.max_len}")
    return samples, stats


def ids_digest(samples: list[TokenizedSample]) -> str:
    h = hashlib.sha256()
    for s in samples:
        h.update(s.id.encode())
        h.update(b"\n")
    return h.hexdigest()


def derived_seed(*parts) -> int:
    h = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(h[:8], "little") & ((1 << 63) - 1)


class EpochSampler:
    """Deterministic epoch-wise shuffling; a step takes the next `n` (epoch, index) pairs, crossing
    epoch boundaries without dropping or repeating anything. State: (epoch, offset)."""

    def __init__(self, num_samples: int, seed: int):
        self.n, self.seed = num_samples, seed
        self.epoch, self.offset = 0, 0
        self._perm: tuple[int, list[int]] | None = None

    def permutation(self, epoch: int) -> list[int]:
        if self._perm is None or self._perm[0] != epoch:
            g = torch.Generator().manual_seed(derived_seed("sampler", self.seed, epoch))
            self._perm = (epoch, torch.randperm(self.n, generator=g).tolist())
        return self._perm[1]

    def take(self, count: int) -> list[tuple[int, int]]:
        out = []
        while len(out) < count:
            if self.offset >= self.n:
                self.epoch, self.offset = self.epoch + 1, 0
            out.append((self.epoch, self.permutation(self.epoch)[self.offset]))
            self.offset += 1
        return out

    @property
    def progress(self) -> float:
        return self.epoch + self.offset / self.n

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "offset": self.offset, "seed": self.seed, "num_samples": self.n}

    def load_state_dict(self, st: dict) -> None:
        self.epoch, self.offset = int(st["epoch"]), int(st["offset"])


def lr_lambda(total: int, warmup_ratio: float, min_ratio: float):
    warm = int(round(warmup_ratio * total)) if warmup_ratio > 0 else 0

    def f(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        span = max(1, total - warm)
        prog = min(1.0, (step - warm) / span)
        return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * prog))
    return f
