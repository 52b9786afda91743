#!/usr/bin/env python3
"""Reference values of the zonal kernels phi, phi', phi'' (mpmath, exact infinite series).

For each (d, kernel) the heat series is summed until its tail is below 1e-(dps) of Z,
with the working precision raised by the number of digits that cancel at c = -1.
Usage: python3 make_kernel_values.py kernel_values.json   (pip install mpmath; ~1 minute)
"""
import json, math, sys
import mpmath as mp

CS = ['-1', '-0.9', '-0.5', '-0.2', '0', '0.2', '0.5', '0.9', '0.99', '1']

def ln_ndim(d, l):
    if l == 0:
        return mp.mpf(0)
    if d == 2:
        return mp.log(2)
    return mp.log(mp.mpf(2 * l + d - 2) / (l + d - 2)) + mp.log(mp.binomial(l + d - 2, l))

def weights(kind, d, par):
    if kind == 'band':
        return [mp.mpf(1)] * (int(par) + 1)
    t = mp.mpf(par)
    terms, out = [], []
    for l in range(0, 20000):
        lt = -t * l * (l + d - 2) + ln_ndim(d, l)
        terms.append(lt)
        out.append(mp.e ** (-t * l * (l + d - 2)))
        if l > 2 and lt < max(terms) - mp.mpf(mp.mp.dps) * mp.log(10) and lt < terms[-2]:
            return out
    raise RuntimeError('no convergence')

def values(kind, d, par):
    t = float(par) if kind == 'heat' else None
    kappa = d * math.exp(-t * d) if kind == 'heat' else 1.0
    mp.mp.dps = 40 + int(2.5 * kappa / math.log(10)) + 20
    w = weights(kind, d, par)
    L = len(w) - 1
    lnN = [ln_ndim(d, l) for l in range(L + 1)]
    Z = mp.fsum(w[l] * mp.e ** lnN[l] for l in range(L + 1))
    a = [w[l] * mp.e ** lnN[l] / Z for l in range(L + 1)]
    out = []
    for cs in CS:
        c = mp.mpf(cs)
        # P_l(d; c) and derivatives by the recurrence and its term-by-term derivatives
        P = [mp.mpf(1), c]
        D = [mp.mpf(0), mp.mpf(1)]
        D2 = [mp.mpf(0), mp.mpf(0)]
        for l in range(1, L):
            al = mp.mpf(2 * l + d - 2) / (l + d - 2)
            bl = mp.mpf(l) / (l + d - 2)
            P.append(al * c * P[l] - bl * P[l - 1])
            D.append(al * (P[l] + c * D[l]) - bl * D[l - 1])
            D2.append(al * (2 * D[l] + c * D2[l]) - bl * D2[l - 1])
        phi = mp.fsum(a[l] * P[l] for l in range(L + 1))
        d1 = mp.fsum(a[l] * D[l] for l in range(L + 1))
        d2 = mp.fsum(a[l] * D2[l] for l in range(L + 1))
        out.append({'c': cs, 'phi': mp.nstr(phi, 20), 'd1': mp.nstr(d1, 20), 'd2': mp.nstr(d2, 20)})
    return {'kernel': kind, 'param': str(par), 'd': d, 'inv_Z': mp.nstr(1 / Z, 20), 'values': out}

def main():
    cases = []
    for d in [2, 3, 5, 16, 64, 256, 1024, 4096]:
        for kind, par in [('heat', 5.0 / d), ('heat', 2.0 / d), ('band', 2)]:
            cases.append(values(kind, d, par))
            print(d, kind, par, cases[-1]['inv_Z'], file=sys.stderr)
    json.dump({'generator': 'tests/data/make_kernel_values.py (mpmath)', 'cases': cases}, open(sys.argv[1], 'w'), indent=1)

if __name__ == '__main__':
    main()
