#!/usr/bin/env python3
"""The device path's peak extra memory on the CPU: forward and backward of each
objective with compute="device" at N rows (default 16384, d = 256, float32), each
in a fresh process, as the growth of the process's peak resident set over its size
just before the call (the rows and their gradient included). An N x N float32
matrix at N = 16384 would be 1 GiB; the blocks keep the peak well below.

  python python/bench/device_memory.py [--N 16384] [--d 256]
"""
import argparse
import json
import resource
import subprocess
import sys

OBJECTIVES = ["MMD", "KSD", "KDEKL", "SIGRegIntegrated", "SUSRegIntegrated", "SIGReg", "SUSReg"]


def one(name, n, d):
    import torch
    import unisphere.torch as ut

    torch.set_num_threads(2)
    z = torch.randn(n, d).requires_grad_()
    module = getattr(ut, name)(compute="device")
    module(torch.randn(64, d))  # builds the objective and its tables
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    module(z).backward()
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return (after - before) / 1024.0  # MiB (ru_maxrss is in KiB on Linux)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--N", type=int, default=16384)
    ap.add_argument("--d", type=int, default=256)
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.N, args.d)))
        return
    print(f"device path on the CPU, N = {args.N}, d = {args.d}, float32, forward + backward")
    print("| objective | peak extra memory (MiB) |")
    print("|---|---|")
    for name in OBJECTIVES:
        out = subprocess.run([sys.executable, __file__, "--one", name, "--N", str(args.N), "--d", str(args.d)],
                             capture_output=True, text=True, check=True).stdout
        print(f"| {name} | {json.loads(out):.0f} |")


if __name__ == "__main__":
    main()
