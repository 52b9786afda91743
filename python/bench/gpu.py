#!/usr/bin/env python3
"""On a GPU: forward and backward of heat MMD, KDE-KL, SIGReg's twin and SIGReg on
the device path (compute="device", torch operations on the GPU) against the host
path (compute="host": the rows copied to the CPU, the crate, the gradient copied
back) and lightly's SIGReg (when installed), at N = 256 ... 16384 and d = 256 and
2048, float32. Each cell is the median of --reps calls after two warm-up calls,
timed with CUDA events; a side whose first call exceeds --budget seconds is not
timed at larger N. Prints a markdown table (ms), in well under 10 minutes on an
H100 (the host path is capped at N = 4096).

  python python/bench/gpu.py [--N 256 1024 4096 16384] [--d 256 2048] [--reps 5]

Not run yet on a GPU: written and checked on the CPU (`--device cpu`) only.
"""
import argparse
import statistics
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--N", type=int, nargs="+", default=[256, 1024, 4096, 16384])
    ap.add_argument("--d", type=int, nargs="+", default=[256, 2048])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--budget", type=float, default=20.0, help="seconds a first call may take")
    ap.add_argument("--host-max-n", type=int, default=4096)
    ap.add_argument("--device", default="cuda")
    args = ap.parse_args()
    import torch
    import unisphere.torch as ut

    device = torch.device(args.device)
    cuda = device.type == "cuda"
    try:
        from lightly.loss import SIGReg as LightlySIGReg
    except Exception:
        LightlySIGReg = None

    def sides(d):
        out = {}
        for compute in ("device", "host"):
            out[f"MMD heat ({compute})"] = (lambda c=compute: ut.MMD(compute=c), compute)
            out[f"KDE-KL heat ({compute})"] = (lambda c=compute: ut.KDEKL(compute=c), compute)
            out[f"SIGReg twin ({compute})"] = (lambda c=compute: ut.SIGRegIntegrated(compute=c), compute)
            out[f"SIGReg ({compute})"] = (lambda c=compute: ut.SIGReg(compute=c), compute)
        if LightlySIGReg is not None:
            out["lightly SIGReg"] = (lambda: LightlySIGReg().to(device), "device")
        return out

    def timed(module, z):
        zz = z.detach().clone().requires_grad_()
        if cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            module(zz).backward()
            end.record()
            torch.cuda.synchronize()
            return start.elapsed_time(end)
        t0 = time.perf_counter()
        module(zz).backward()
        return 1e3 * (time.perf_counter() - t0)

    name = torch.cuda.get_device_name(device) if cuda else "CPU"
    print(f"{name}, float32, forward + backward, median of {args.reps} calls (ms)")
    for d in args.d:
        table = {}
        dropped = set()
        for n in args.N:
            z = torch.randn(n, d, device=device)
            for side, (make, kind) in sides(d).items():
                if side in dropped or (kind == "host" and n > args.host_max_n):
                    continue
                module = make()
                t0 = time.perf_counter()
                timed(module, z)
                if time.perf_counter() - t0 > args.budget:
                    dropped.add(side)
                timed(module, z)
                times = [timed(module, z) for _ in range(args.reps)]
                table[(side, n)] = statistics.median(times)
        print(f"\nd = {d}")
        print("| side | " + " | ".join(f"N = {n}" for n in args.N) + " |")
        print("|---|" + "---|" * len(args.N))
        for side in sides(d):
            cells = [f"{table[(side, n)]:.2f}" if (side, n) in table else "-" for n in args.N]
            print(f"| {side} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
