"""Training checkpoints: finding the newest complete one, the RNG state they carry, and the carry
(a compact copy to commit, so that a run continues on another machine)."""
from __future__ import annotations

import gzip
import random
import shutil
from pathlib import Path

import torch

from dspark.files import atomic_path, load_safetensors, save_safetensors


STATE_FILE = "trainer_state.pt"      # optimizer, scheduler, sampler, step, RNG of a checkpoint
CARRY_LOG_FILE = "train_log.jsonl.gz"


def find_latest(ckpt_dir: Path) -> Path | None:
    """The checkpoint `latest` names, or the newest complete step_* directory."""
    ptr = ckpt_dir / "latest"
    if ptr.is_file():
        p = ckpt_dir / ptr.read_text().strip()
        if (p / STATE_FILE).is_file() and (p / "model.safetensors").is_file():
            return p
    steps = sorted(p for p in ckpt_dir.glob("step_*")
                   if p.is_dir() and (p / STATE_FILE).is_file() and (p / "model.safetensors").is_file())
    return steps[-1] if steps else None


def rng_state() -> dict:
    st = {"torch": torch.get_rng_state(), "python": list(random.getstate()[1])}
    if torch.cuda.is_available():
        st["cuda"] = [s for s in torch.cuda.get_rng_state_all()]
    return st


def set_rng_state(st: dict) -> None:
    torch.set_rng_state(st["torch"])
    if "python" in st:
        random.setstate((3, tuple(int(x) for x in st["python"]), None))
    if "cuda" in st and torch.cuda.is_available() and len(st["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(st["cuda"])


def write_carry(ckpt: Path, log: Path, carry: Path) -> Path:
    """Write checkpoint `ckpt` to `carry` compactly: the drafter's floating tensors in fp16, the
    trainer state without the optimizer moments (twice the weights in fp32), the training log
    gzip'd; ~1/6 of the checkpoint. A resume from it starts fresh moments (the trainer's re-warm)."""
    weights = {k: (v.half() if v.is_floating_point() else v).contiguous()
               for k, v in load_safetensors(ckpt / "model.safetensors").items()}
    state = torch.load(ckpt / STATE_FILE, map_location="cpu", weights_only=True)
    state.pop("optimizer", None)
    with atomic_path(carry, durable=True) as tmp:
        tmp.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ckpt / "config.json", tmp / "config.json")
        save_safetensors(weights, tmp / "model.safetensors", metadata={"format": "pt"})
        torch.save(state, tmp / STATE_FILE)
        if log.exists():   # mtime 0: an unchanged log gives the same bytes
            (tmp / CARRY_LOG_FILE).write_bytes(gzip.compress(log.read_bytes(), mtime=0))
    return carry


def read_carry_log(carry: Path) -> str | None:
    """The training log a carry holds (write_carry gzips it), or None where it has none."""
    path = carry / CARRY_LOG_FILE
    return gzip.decompress(path.read_bytes()).decode("utf-8") if path.is_file() else None
