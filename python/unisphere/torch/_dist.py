"""The collectives of the global batch under ``torch.distributed`` (DDP): the
rows, or one number per row, all-gathered from ranks that may hold different
numbers of rows, and element-wise sums. None of them is differentiated: the
modules give each rank the exact gradient of the global loss with respect to its
own rows, with no collective in the backward pass."""
from typing import List, Tuple

import torch
import torch.distributed as dist


def world() -> Tuple[int, int]:
    """``(rank, world size)``; ``(0, 1)`` outside an initialised process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _device_for(t: torch.Tensor) -> torch.device:
    """Where the process group's backend wants the tensors (NCCL: CUDA)."""
    if dist.get_backend() == "nccl" and t.device.type != "cuda":
        return torch.device("cuda", torch.cuda.current_device())
    return t.device


def counts(n: int, like: torch.Tensor) -> List[int]:
    """Every rank's row count, in rank order."""
    _, size = world()
    mine = torch.tensor([n], dtype=torch.int64, device=_device_for(like))
    out = [torch.zeros_like(mine) for _ in range(size)]
    dist.all_gather(out, mine)
    return [int(c.item()) for c in out]


def all_gather_rows(t: torch.Tensor, sizes: List[int]) -> torch.Tensor:
    """The rows (first dimension) of every rank's ``t`` concatenated in rank order,
    ``sizes`` their counts (padded to the largest for the collective)."""
    device = _device_for(t)
    largest = max(sizes)
    pad = torch.zeros((largest,) + tuple(t.shape[1:]), dtype=t.dtype, device=device)
    pad[: t.shape[0]] = t.detach().to(device)
    parts = [torch.empty_like(pad) for _ in sizes]
    dist.all_gather(parts, pad)
    return torch.cat([p[:c] for p, c in zip(parts, sizes)]).to(t.device)


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """The element-wise sum of ``t`` over ranks (a new tensor on ``t``'s device)."""
    device = _device_for(t)
    out = t.detach().to(device).clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out.to(t.device)


def check_same(values: List[float], what: str) -> None:
    """An error on every rank unless every rank has the same ``values``."""
    t = torch.tensor(values, dtype=torch.float64)
    if dist.get_backend() == "nccl":
        t = t.cuda()
    lo, hi = t.clone(), t.clone()
    dist.all_reduce(lo, op=dist.ReduceOp.MIN)
    dist.all_reduce(hi, op=dist.ReduceOp.MAX)
    if not torch.equal(lo, hi):
        raise ValueError(f"the ranks disagree on {what}: every rank must call the module alike")
