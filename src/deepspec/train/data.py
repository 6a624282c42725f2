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
    epoch boundaries without dropping or repeating anything. State: (epoch, offset).

    With `lengths` and `batch` (group by length), an epoch's order is still a random permutation,
    cut into megabatches of GROUP_BATCHES batches; each megabatch is sorted by length and cut into
    batches of `batch` consecutive samples, and the batches are shuffled. A step's sequences then
    have similar lengths, so the context they are padded to (and the attention over it) shrinks:
    with random batches of 16 the longest sequence is usually near max_len."""

    GROUP_BATCHES = 64

    def __init__(self, num_samples: int, seed: int, lengths: list[int] | None = None, batch: int = 0):
        if lengths is not None and len(lengths) != num_samples:
            raise ValueError(f"{len(lengths)} lengths for {num_samples} samples")
        self.n, self.seed = num_samples, seed
        self.lengths, self.batch = (lengths, batch) if lengths is not None and batch > 0 else (None, 0)
        self.epoch, self.offset = 0, 0
        self._perm: tuple[int, list[int]] | None = None

    def permutation(self, epoch: int) -> list[int]:
        if self._perm is None or self._perm[0] != epoch:
            g = torch.Generator().manual_seed(derived_seed("sampler", self.seed, epoch))
            perm = torch.randperm(self.n, generator=g).tolist()
            if self.lengths is not None:
                # steps take `batch` consecutive samples of the stream across epochs: the first
                # `head` of this epoch complete the step that began in the previous one
                head = (-epoch * self.n) % self.batch
                perm = perm[:head] + self._grouped(perm[head:], g)
            self._perm = (epoch, perm)
        return self._perm[1]

    def _grouped(self, perm: list[int], g: torch.Generator) -> list[int]:
        size = self.batch * self.GROUP_BATCHES
        out: list[int] = []
        for start in range(0, len(perm), size):
            mega = sorted(perm[start:start + size], key=lambda i: -self.lengths[i])   # stable: ties keep perm order
            full = len(mega) // self.batch * self.batch
            batches = [mega[i:i + self.batch] for i in range(0, full, self.batch)]
            for j in torch.randperm(len(batches), generator=g).tolist():
                out += batches[j]
            out += mega[full:]      # a short last batch (the epoch's end) stays last: steps stay aligned
        return out

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
        return {"epoch": self.epoch, "offset": self.offset, "seed": self.seed, "num_samples": self.n,
                "group_by_length": self.batch}

    def load_state_dict(self, st: dict) -> None:
        if int(st.get("group_by_length", 0)) != self.batch:
            raise DSparkError(f"the checkpoint's sampler {'grouped' if st.get('group_by_length') else 'did not group'} "
                              f"batches by length, this config {'does' if self.batch else 'does not'} "
                              f"([batch] group_by_length): the sample order would change; use --resume never")
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
