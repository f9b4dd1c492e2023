"""Multi-process training under `torchrun`: which process this is, its device, and summing across processes.

Without torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK) everything here is a single-process no-op.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from .devices import resolve_device


@dataclass(frozen=True)
class Process:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1

    @property
    def main(self) -> bool:
        """Only the main process logs, draws progress bars and writes files."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def from_environment() -> Process:
    """The process as torchrun describes it in the environment."""
    return Process(rank=int(os.environ.get("RANK", "0")), world_size=int(os.environ.get("WORLD_SIZE", "1")),
                   local_rank=int(os.environ.get("LOCAL_RANK", "0")),
                   local_world_size=int(os.environ.get("LOCAL_WORLD_SIZE", "1")))


def setup(device_name: str) -> tuple[Process, torch.device]:
    """Join the process group when launched by torchrun (NCCL on GPUs, gloo on CPUs) and pick this process's
    device: under torchrun, `cuda` means the GPU numbered by the local rank."""
    process = from_environment()
    device = resolve_device(device_name)
    if device.type == "cuda" and process.distributed:
        device = resolve_device(f"cuda:{process.local_rank}")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if process.distributed and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", device_id=device
                                if device.type == "cuda" else None)
    return process, device


def teardown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def barrier(process: Process) -> None:
    if process.distributed:
        dist.barrier()


def all_sum(values: list[float], process: Process, device: torch.device) -> list[float]:
    """Element-wise sum over all processes (the values themselves when there is one)."""
    if not process.distributed:
        return list(values)
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return tensor.tolist()


def from_main(value: object, process: Process) -> object:
    """The main process's `value`, on every process."""
    if not process.distributed:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]
