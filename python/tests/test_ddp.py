"""The global batch under torch.distributed (gloo, spawned processes): 1, 2 and 4
ranks with uneven row counts give every rank the single-process loss and, after
DDP's averaging, the single-process gradient of its rows, for every objective, on
the host and the device path. A first version of lightly's SIGReg lost a factor of
the world size in the gradient (lightly issue #1920): the averaging is part of the
check."""
import os

import pytest

torch = pytest.importorskip("torch")
import torch.distributed as dist  # noqa: E402
import torch.multiprocessing as mp  # noqa: E402

N, D = 37, 21
SIZES = {1: [37], 2: [30, 7], 4: [1, 12, 5, 19]}


def factories():
    from unisphere.torch import KDEKL, KSD, MMD, SIGReg, SIGRegIntegrated, SUSReg, SUSRegIntegrated

    return [
        ("MMD", lambda **k: MMD(**k)),
        ("KSD", lambda **k: KSD(**k)),
        ("KDEKL", lambda **k: KDEKL(**k)),
        ("SIGRegIntegrated", lambda **k: SIGRegIntegrated(**k)),
        ("SUSRegIntegrated", lambda **k: SUSRegIntegrated(**k)),
        ("SIGReg", lambda **k: SIGReg(num_vectors=48, seed=7, **k)),
        ("SUSReg", lambda **k: SUSReg(num_vectors=48, seed=7, **k)),
    ]


def worker(rank, world, rendezvous, dtype_name):
    os.environ.setdefault("RAYON_NUM_THREADS", "1")
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{rendezvous}", rank=rank, world_size=world)
    dtype = getattr(torch, dtype_name)
    g = torch.Generator().manual_seed(11)
    z = (torch.randn(N, D, dtype=torch.float64, generator=g) + 0.2).to(dtype)
    start = sum(SIZES[world][:rank])
    mine = slice(start, start + SIZES[world][rank])
    failures = []
    for compute in ("host", "device"):
        for name, make in factories():
            whole = z.clone().requires_grad_()
            want = make(compute=compute)(whole)
            want.backward()
            local = z[mine].clone().requires_grad_()
            got = make(compute=compute, gather_distributed=True)(local)
            got.backward()
            # DDP averages parameter gradients over the ranks: the module's row
            # gradient carries the world size so that the average is the global one.
            averaged = local.grad / world
            rel = abs(got.item() - want.item()) / abs(want.item())
            largest = whole.grad.abs().max().item()
            err = (averaged - whole.grad[mine]).abs().max().item()
            tol = (1e-6, 1e-5) if dtype == torch.float64 else (1e-5, 1e-4)
            if rel > tol[0] or err > tol[1] * largest:
                failures.append(f"rank {rank}/{world} {compute} {name}: loss rel {rel:.2e}, grad {err:.2e} of {largest:.2e}")
    dist.barrier()
    dist.destroy_process_group()
    if failures:
        raise AssertionError("\n".join(failures))


@pytest.mark.parametrize("world", [1, 2, 4])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_global_batch_over_ranks(world, dtype, tmp_path):
    # A rendezvous file, not a port: no race with other processes for a free port.
    mp.spawn(worker, args=(world, str(tmp_path / "rendezvous"), dtype), nprocs=world, join=True)
