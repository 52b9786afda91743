#!/usr/bin/env python3
"""Heat MMD against the PyTorch peer, side by side, in alternating rounds.

Each round runs the crate's `small_batch` example (heat MMD, t = 5/d, f32, loss and
gradient; `--back-to-back`: median of --reps calls in a row per size, after 3 warm-up
calls) and then the peer (`peer_losses.py --bench`: pure-torch heat MMD, a fresh
process, median of --peer-reps calls in a row after 3 warm-up calls), both on
--threads threads, so that both sides are timed alike. The ratio of the two medians
is that round's speed-up. On a shared machine a neighbour's load can slow either side
by half from one round to the next, so a single round's ratio is as much noise as
speed; the summary gives, per size, the median speed-up over the rounds and its range.

Needs the release build of the example and a Python with torch for the peer:

  cargo build --release --example small_batch
  python3 python/bench/rounds.py --rounds 7 --peer-python <a python with torch> [--csv FILE]
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def ours(binary, sizes, d, reps, threads):
    """Median heat MMD time (ms) per N, from small_batch's table of median times."""
    spec = ",".join("%dx%d" % (n, d) for n in sizes)
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    out = subprocess.run([binary, "--sizes", spec, "--reps", str(reps), "--back-to-back"], env=env,
                         capture_output=True, text=True, check=True).stdout
    table = out.split("median time (ms)", 1)[1]
    header = next(line for line in table.splitlines() if line.startswith("| N |"))
    column = [c.strip() for c in header.strip("|").split("|")].index("MMD heat")
    times = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells and cells[0].isdigit():
            times[int(cells[0])] = float(cells[column])
    return times


def peer(python, script, sizes, d, reps, threads):
    """The peer's median heat time (ms) per N."""
    cmd = [python, script, "--bench", "--N", *map(str, sizes), "--d", str(d), "--reps", str(reps),
           "--threads", str(threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    times = {}
    for m in re.finditer(r"^heat N=(\d+) d=\d+ median ([0-9.]+) ms", out, re.M):
        times[int(m.group(1))] = float(m.group(2))
    return times


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--N", type=int, nargs="+", default=[256, 512, 1024])
    ap.add_argument("--d", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=31, help="small_batch repetitions per size")
    ap.add_argument("--peer-reps", type=int, default=15, help="the peer's timed calls per size")
    ap.add_argument("--small-batch", default=str(REPO / "target" / "release" / "examples" / "small_batch"))
    ap.add_argument("--peer", default=str(REPO / "python" / "bench" / "peer_losses.py"),
                    help="the peer's script (default: python/bench/peer_losses.py)")
    ap.add_argument("--peer-python", default=sys.executable, help="a Python that has torch")
    ap.add_argument("--csv", default=None,
                    help="also append one row per round and size to this CSV file (round,n,d,threads,peer_ms,ours_ms)")
    args = ap.parse_args()
    csv = None
    if args.csv:
        new = not Path(args.csv).exists()
        csv = open(args.csv, "a")
        if new:
            csv.write("round,n,d,threads,peer_ms,ours_ms\n")
    print("# heat MMD, t = 5/d, d = %d, f32, loss + gradient, %d threads; load1 %.1f at start"
          % (args.d, args.threads, os.getloadavg()[0]))
    print("| round | time | " + " | ".join("N = %d: peer / ours (ms), speed-up" % n for n in args.N) + " |")
    print("|---|---|" + "---|" * len(args.N))
    speedups = {n: [] for n in args.N}
    for r in range(1, args.rounds + 1):
        mine = ours(args.small_batch, args.N, args.d, args.reps, args.threads)
        theirs = peer(args.peer_python, args.peer, args.N, args.d, args.peer_reps, args.threads)
        cells = []
        for n in args.N:
            s = theirs[n] / mine[n]
            speedups[n].append(s)
            cells.append("%.2f / %.3f, %.1fx" % (theirs[n], mine[n], s))
            if csv:
                csv.write("%d,%d,%d,%d,%.4f,%.4f\n" % (r, n, args.d, args.threads, theirs[n], mine[n]))
                csv.flush()
        print("| %d | %s | %s |" % (r, time.strftime("%H:%M:%S"), " | ".join(cells)), flush=True)
    print("\n| N | median speed-up | range |")
    print("|---|---|---|")
    for n in args.N:
        s = speedups[n]
        print("| %d | %.1fx | %.1f-%.1fx |" % (n, statistics.median(s), min(s), max(s)))
    print("# load1 %.1f at end" % os.getloadavg()[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
