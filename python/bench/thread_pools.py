#!/usr/bin/env python3
"""A realistic CPU training step, timed as a PyTorch user runs it: a small MLP
encoder's forward, heat MMD on its output (unisphere.torch.MMD), the backward and an
optimizer step, back to back with no pause, so that torch's OpenMP pool and the
crate's rayon pool meet as they do in training. Each configuration runs in its own
process (the OpenMP settings are read when torch loads):

  host           compute="host" (the default on CPU tensors), rayon on --threads threads
  host-passive   the same with OMP_WAIT_POLICY=PASSIVE (torch's workers sleep at once)
  host-rayon-1   the same with RAYON_NUM_THREADS=1
  *-spin-10k     with GOMP_SPINCOUNT=10000 (torch's workers spin briefly, then sleep)
  device         compute="device": torch operations, on torch's own pool
  encoder        the encoder alone (no regularizer): the floor
  encoder-passive  the encoder alone with OMP_WAIT_POLICY=PASSIVE

  python python/bench/thread_pools.py [--N 1024] [--d 256] [--steps 60] [--threads 2]

Prints the median step time per configuration (ms) and the regularizer's share
(median step minus the encoder-only median).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

CONFIGS = {
    "encoder": ({}, None),
    "encoder-passive": ({"OMP_WAIT_POLICY": "PASSIVE"}, None),
    "host": ({}, "host"),
    "host-passive": ({"OMP_WAIT_POLICY": "PASSIVE"}, "host"),
    "host-rayon-1": ({"RAYON_NUM_THREADS": "1"}, "host"),
    "encoder-spin-10k": ({"GOMP_SPINCOUNT": "10000"}, None),
    "host-spin-10k": ({"GOMP_SPINCOUNT": "10000"}, "host"),
    "device": ({}, "device"),
}


def one(n, d, steps, threads, compute):
    import torch
    from unisphere.torch import MMD

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    encoder = torch.nn.Sequential(
        torch.nn.Linear(128, 512), torch.nn.ReLU(), torch.nn.Linear(512, 512), torch.nn.ReLU(),
        torch.nn.Linear(512, d),
    )
    reg = MMD(compute=compute) if compute else None
    opt = torch.optim.SGD(encoder.parameters(), lr=1e-3)
    x = torch.randn(n, 128)
    times = []
    for step in range(steps + 5):
        start = time.perf_counter()
        z = encoder(x)
        loss = z.square().mean() * 1e-3
        if reg is not None:
            loss = loss + reg(z)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step >= 5:
            times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--N", type=int, default=1024)
    ap.add_argument("--d", type=int, default=256)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3, help="each configuration this many times, in turn")
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.N, args.d, args.steps, args.threads, CONFIGS[args.one][1] or None)))
        return
    results = {name: [] for name in CONFIGS}
    for _ in range(args.rounds):
        for name, (env, _) in CONFIGS.items():
            e = dict(os.environ, RAYON_NUM_THREADS=str(args.threads), OMP_NUM_THREADS=str(args.threads))
            e.update(env)
            out = subprocess.run(
                [sys.executable, __file__, "--one", name, "--N", str(args.N), "--d", str(args.d),
                 "--steps", str(args.steps), "--threads", str(args.threads)],
                env=e, capture_output=True, text=True, check=True,
            ).stdout
            results[name].append(json.loads(out))
    floor = statistics.median(results["encoder"])
    print(f"N = {args.N}, d = {args.d}, {args.threads} threads, median step (ms) over {args.rounds} processes of {args.steps} steps")
    print("| configuration | step (ms) | regularizer's share (ms) |")
    print("|---|---|---|")
    for name in CONFIGS:
        t = statistics.median(results[name])
        share = "" if name.startswith("encoder") else f"{t - floor:.2f}"
        print(f"| {name} | {t:.2f} | {share} |")


if __name__ == "__main__":
    main()
