"""Training checkpoints: finding the newest complete one, and the RNG state they carry."""
from __future__ import annotations

import random
from pathlib import Path

import torch


STATE_FILE = "trainer_state.pt"      # optimizer, scheduler, sampler, step, RNG of a checkpoint


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
