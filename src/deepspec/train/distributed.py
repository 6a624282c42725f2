"""Processes and devices of a training run: one process, or torchrun with DDP (gloo on CPU, nccl on
CUDA)."""
from __future__ import annotations

import os

import torch
import torch.distributed as dist

from dspark.errors import DSparkError



def resolve_device(spec: str, local_rank: int = 0) -> torch.device:
    if spec == "auto":
        return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
    if spec == "cuda":
        spec = f"cuda:{local_rank}"
    dev = torch.device(spec)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DSparkError(f"device {spec} requested but CUDA is not available")
    return dev


class Dist:
    """One process, or one rank of a torchrun job (WORLD_SIZE / RANK / LOCAL_RANK)."""

    def __init__(self, device_spec: str):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.enabled = self.world > 1
        self.device = resolve_device(device_spec, self.local_rank)
        if self.enabled and not dist.is_initialized():
            if self.device.type == "cuda":
                torch.cuda.set_device(self.device)
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def all_reduce(self, t: torch.Tensor) -> torch.Tensor:
        if self.enabled:
            t = t.to(self.device)
            dist.all_reduce(t)
        return t

    def close(self) -> None:
        if self.enabled and dist.is_initialized():
            dist.destroy_process_group()
