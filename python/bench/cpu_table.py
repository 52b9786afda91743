#!/usr/bin/env python3
"""Side by side on the CPU, as a PyTorch user runs them: forward and backward of
unisphere.torch's SIGReg, its integrated twin and heat MMD (host and device path),
lightly's SIGReg (when installed) and the pure-torch peer's heat MMD
(``peer_losses.py``), on one process and the same threads, interleaved call by
call (each round calls every side once, in turn, with no pause between them).
Prints the median time per side and N (ms) as a markdown table, and CSV rows.

  python python/bench/cpu_table.py [--N 256 1024 4096] [--d 256] [--rounds 15] [--threads 2]

Both pools get --threads threads (torch.set_num_threads, RAYON_NUM_THREADS).
"""
import argparse
import os
import statistics
import sys
import time
from pathlib import Path


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--N", type=int, nargs="+", default=[256, 1024, 4096])
    ap.add_argument("--d", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--csv", default=None, help="also append the rows to this CSV file")
    args = ap.parse_args()
    os.environ.setdefault("RAYON_NUM_THREADS", str(args.threads))
    import torch

    torch.set_num_threads(args.threads)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import peer_losses
    from unisphere.torch import MMD, SIGReg, SIGRegIntegrated

    try:
        from lightly.loss import SIGReg as LightlySIGReg
    except Exception:  # not installed
        LightlySIGReg = None

    d = args.d
    sides = {
        "unisphere SIGReg (host)": lambda: SIGReg(compute="host"),
        "unisphere SIGReg (device)": lambda: SIGReg(compute="device"),
        "unisphere SIGReg twin (host)": lambda: SIGRegIntegrated(compute="host"),
        "unisphere SIGReg twin (device)": lambda: SIGRegIntegrated(compute="device"),
        "unisphere MMD heat (host)": lambda: MMD(compute="host"),
        "unisphere MMD heat (device)": lambda: MMD(compute="device"),
        "peer MMD heat (torch)": lambda: (lambda z: peer_losses.heat_mmd(z / z.norm(dim=1, keepdim=True), 5.0 / d)),
    }
    if LightlySIGReg is not None:
        sides["lightly SIGReg"] = lambda: LightlySIGReg()
    rows = []
    for n in args.N:
        g = torch.Generator().manual_seed(n)
        z0 = torch.randn(n, d, generator=g)
        modules = {name: make() for name, make in sides.items()}
        times = {name: [] for name in sides}
        for r in range(args.rounds + 2):  # two warm-up rounds
            for name, m in modules.items():
                z = z0.clone().requires_grad_()
                start = time.perf_counter()
                m(z).backward()
                if r >= 2:
                    times[name].append(time.perf_counter() - start)
        for name in sides:
            rows.append((n, name, 1e3 * statistics.median(times[name])))
    header = "| side | " + " | ".join(f"N = {n}" for n in args.N) + " |"
    print(f"CPU, d = {d}, float32, forward + backward, {args.threads} threads, median of {args.rounds} interleaved rounds (ms)")
    print(header)
    print("|---|" + "---|" * len(args.N))
    for name in sides:
        cells = [f"{t:.2f}" for (n, s, t) in rows if s == name]
        print(f"| {name} | " + " | ".join(cells) + " |")
    if args.csv:
        new = not Path(args.csv).exists()
        with open(args.csv, "a") as f:
            if new:
                f.write("n,d,threads,side,median_ms\n")
            for n, name, t in rows:
                f.write(f"{n},{d},{args.threads},{name},{t:.3f}\n")


if __name__ == "__main__":
    main()
