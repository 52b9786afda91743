#!/usr/bin/env python3
"""The peer benchmark with a row "unisphere via Python": heat-kernel MMD (t = 5/d),
forward and backward, timed four ways in one process, interleaved call by call:

  crate      the crate called directly: the call timed inside Rust (no Python)
  numpy      unisphere.Mmd(...).loss_and_grad(z) on a numpy array, from Python
  torch      unisphere.torch.regularizer(...)(z).backward() on a torch tensor
  peer       the pure-torch peer's `heat` loss (../shared/bench/torch_peer.py,
             imported by path; blocked autograd.Function with the derivative
             recurrence), loss.backward()

and prints medians over --reps timed calls (after --warmup), the Python layer's
overhead against the crate and the speed-up of the torch row against the peer. The
overhead is the median of the paired differences (each numpy or torch call minus the
crate call of the same round) over the crate's median: adjacent calls share the
machine's load, so the pairing removes most of a shared machine's drift. Each round
runs the peer first, pauses (--pause) so torch's worker threads go idle, then the
three unisphere sides, starting at the next one in turn. Both sides get --threads threads
(torch.set_num_threads, RAYON_NUM_THREADS).

  python python/bench/peer.py [--N 256 512 1024 2048 4096] [--d 256] [--dtype float32]
"""
import argparse
import importlib.util
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def load_peer(path):
    spec = importlib.util.spec_from_file_location("torch_peer", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--N", type=int, nargs="+", default=[256, 512, 1024, 2048, 4096])
    ap.add_argument("--d", type=int, default=256)
    ap.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--reps", type=int, default=11)
    ap.add_argument("--pause", type=float, default=0.2, help="seconds of idle after each peer call")
    ap.add_argument("--peer", default=str(REPO.parent / "shared" / "bench" / "torch_peer.py"),
                    help="path of the peer's torch_peer.py (default: ../shared/bench/ next to the repository)")
    args = ap.parse_args()
    os.environ["RAYON_NUM_THREADS"] = str(args.threads)  # before the crate's first call

    import torch

    import unisphere
    from unisphere.torch import regularizer

    torch.set_num_threads(args.threads)
    peer = load_peer(args.peer)
    dtype = getattr(torch, args.dtype)
    d = args.d
    print("# heat MMD, t = 5/d, d = %d, %s, forward + backward; %d threads; median of %d calls "
          "(after %d warm-up), interleaved; load1 %.1f at start" %
          (d, args.dtype, args.threads, args.reps, args.warmup, os.getloadavg()[0]))
    print("| N | crate (ms) | via numpy (ms) | overhead | via torch (ms) | overhead | torch peer (ms) | speed-up |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in args.N:
        x = peer.unit_rows(n, d, dtype, seed=0)
        xn = x.numpy()
        reg = unisphere.Mmd(unisphere.Kernel.heat(d, 5.0 / d))
        module = regularizer(reg)
        tau = peer.default_tau(d)
        degree = peer.auto_degree(d, tau)
        times = {"crate": [], "numpy": [], "torch": [], "peer": []}

        def crate():
            return reg._time_loss_and_grad(xn, 1)[0]

        def numpy_call():
            t0 = time.perf_counter()
            reg.loss_and_grad(xn)
            return time.perf_counter() - t0

        def torch_call():
            z = x.detach().requires_grad_()
            t0 = time.perf_counter()
            module(z).backward()
            return time.perf_counter() - t0

        def peer_call():
            z = x.detach().requires_grad_()
            t0 = time.perf_counter()
            peer.heat_mmd(z, tau=tau, L=degree).backward()
            return time.perf_counter() - t0

        ours = (("crate", crate), ("numpy", numpy_call), ("torch", torch_call))
        for i in range(args.warmup + args.reps):
            t = peer_call()
            if i >= args.warmup:
                times["peer"].append(t)
            time.sleep(args.pause)  # torch's worker threads stop spinning before ours run
            for j in range(len(ours)):
                name, f = ours[(i + j) % len(ours)]
                t = f()
                if i >= args.warmup:
                    times[name].append(t)
        m = {k: 1e3 * statistics.median(v) for k, v in times.items()}

        def overhead(side):
            paired = [a - b for a, b in zip(times[side], times["crate"])]
            return 100 * 1e3 * statistics.median(paired) / m["crate"]

        print("| %d | %.2f | %.2f | %+.1f%% | %.2f | %+.1f%% | %.2f | %.1fx |" % (
            n, m["crate"], m["numpy"], overhead("numpy"), m["torch"], overhead("torch"),
            m["peer"], m["peer"] / m["torch"]), flush=True)
    print("# load1 %.1f at end" % os.getloadavg()[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
