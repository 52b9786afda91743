#!/usr/bin/env python3
"""Reference values for `unisphere::special`, computed with mpmath (mp.dps = 50).

Writes special_mpmath.json next to this script. Inputs are written with Python's
shortest round-trip float repr (so Rust parses the exact same f64), outputs as
strings with 20 significant digits.

    omega(d, r)           = 0F1(; d/2; -r^2/4) = Gamma(nu+1) (2/r)^nu J_nu(r), nu = d/2 - 1
    omega'(d, r)          = -(r/d) omega(d + 2, r)
    cond                  = |r omega'(d, r) / omega(d, r)|  (relative condition number in r)
    hyp1f1_half(d, x)     = 1F1(1/2; d/2; -x)
    hyp1f1_half'(d, x)    = -(1/d) 1F1(3/2; d/2 + 1; -x)

Usage: pip install mpmath && python3 make_special.py
"""
import json
import os

import mpmath as mp

mp.mp.dps = 50

DIMS = [2, 3, 4, 5, 8, 16, 17, 64, 128, 255, 256, 257, 512, 1024, 2048, 4096]
R_BASE = [0.0, 1e-8, 1e-3, 0.1, 0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0,
          25.0, 30.0, 40.0, 50.0, 75.0, 100.0, 150.0, 200.0, 300.0, 400.0]
R_LARGE = [1e3, 1e4, 1e5, 1e6]


def s20(v):
    return mp.nstr(mp.mpf(v), 20, min_fixed=1, max_fixed=0)


def omega_mp(d, r):
    r = mp.mpf(r)
    if r == 0:
        return mp.mpf(1)
    nu = mp.mpf(d) / 2 - 1
    try:
        j = mp.besselj(nu, r)
    except ValueError:
        # near a zero the hypergeometric sum needs more working precision
        j = mp.besselj(nu, r, maxprec=200000, maxterms=10**6)
    return mp.gamma(nu + 1) * (2 / r) ** nu * j


def r_values(d):
    nu = d / 2 - 1
    rs = set(R_BASE + R_LARGE)
    for t in (0.5, 1.0, 2.0, 3.0):
        for rho in (0.5, 1.0, 1.5, 2.0):
            rs.add(t * (d ** 0.5) * rho)
    if nu > 0:
        # around the turning point r = nu
        for off in (-3.0, -1.0, 0.0, 1.0, 3.0):
            rs.add(nu + off * nu ** (1.0 / 3.0))
    # near the zeros of J_nu (the value there is pure cancellation); the
    # first zero exceeds nu, so there are none below 400 for nu >= 400
    k = 1
    while nu < 400:
        j = float(mp.besseljzero(mp.mpf(d) / 2 - 1, k))
        if j > 400:
            break
        rs.add(j)
        rs.add(j * (1 + 1e-9))
        rs.add(j * (1 + 1e-4))
        k = k * 2 if k < 8 else k + 7
    return sorted(r for r in rs if r >= 0)


def main():
    omega_cases = []
    for d in DIMS:
        for r in r_values(d):
            v = omega_mp(d, r)
            dv = -(mp.mpf(r) / d) * omega_mp(d + 2, r)
            cond = abs(mp.mpf(r) * dv / v) if v != 0 else mp.inf
            omega_cases.append({
                "d": d, "r": repr(float(r)),
                "value": s20(v), "derivative": s20(dv),
                "cond": s20(cond) if cond != mp.inf else "inf",
            })
    hyp_cases = []
    for d in DIMS:
        xs = {0.0, 1e-6, 0.01, 0.1, 1.0, 5.0, 20.0, 44.0, 46.0}
        for f in (0.01, 0.1, 0.25, 0.5, 0.6, 0.75, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0):
            xs.add(f * d)
        for x in sorted(xs):
            if x > 4 * d:
                continue
            b = mp.mpf(d) / 2
            v = mp.hyp1f1(mp.mpf("0.5"), b, -mp.mpf(x))
            dv = -(mp.mpf(1) / d) * mp.hyp1f1(mp.mpf("1.5"), b + 1, -mp.mpf(x))
            hyp_cases.append({"d": d, "x": repr(float(x)), "value": s20(v), "derivative": s20(dv)})
    out = {
        "description": "mpmath (dps=50) references for unisphere::special; see make_special.py",
        "omega": omega_cases,
        "hyp1f1_half": hyp_cases,
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "special_mpmath.json")
    with open(path, "w") as fh:
        json.dump(out, fh, indent=1)
    print(f"wrote {len(omega_cases)} omega and {len(hyp_cases)} hyp1f1 cases to {path}")


if __name__ == "__main__":
    main()
