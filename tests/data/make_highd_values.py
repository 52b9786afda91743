#!/usr/bin/env python3
"""High-dimensional reference values for unisphere (issue 11): kernels and KDE-KL, mpmath.

What it writes (one JSON file, see shared/SPEC.md sections 1-3 and 5):
  "kernels":     heat kernel phi(c) = (1/Z) sum_l w_l N(d,l) P_l(d;c), w_l = exp(-t l(l+d-2)),
                 as the infinite series (summed past the peak of N(d,l) w_l until the terms are
                 below 10^-(dps+8) of the largest term, hence of Z), for d in 512..8192,
                 t = 2.0/d and 5.0/d (plus 0.5/d and 20.0/d at d = 1024), on a 25-point grid of
                 cosines over [-1, 1]: ln phi, phi'/phi, phi''/phi, phi, phi', phi'' (25 digits).
  "bandlimited": L = 2, 3 for d = 512, 4096, 8192: phi, phi', phi'' on the same grid plus the
                 nearest f64 on either side of each real root of phi (root*(1 -+ 1e-7)).
  "kl":          KDE-KL (leave-one-out, heat kernel t = 2.0/d) of two 16-row batches per d in
                 1024..8192, "uniform" and "clustered". The rows are not stored: they come from the
                 deterministic generator below, which the Rust test re-implements bit for bit.
                 Every entry is rounded to f32, so the rows are exact in f32 and f64.
                 Per batch: raw_loss = A + ln Z, paper_loss = (A - ln|S|)/(-ln|S|), ln_q per row,
                 ln_z, cos_range, and the exact analytic gradient w.r.t. the raw rows, stored
                 compactly (20 significant digits, trailing zeros dropped, as strings):
                   grad_cols      per row, its first grad_ncols = 64 columns;
                   grad_row_norms per row, the Euclidean norm of the full gradient row (d entries);
                   grad_dots      per row, sum_j grad[i][j] * v_j with v from the generator at
                                  initial state 10 d + 3 (d Gaussians, kept as double; check
                                  values under "grad_dot_vector").
                 fd_check: the gradient against a central finite difference (h = 1e-25) on two
                 entries per batch (any column), asserted to 1e-12 relative.

Generator ("splitmix64-irwin-hall-12"; integer and IEEE-exact double operations only):
  SplitMix64 over u64, all arithmetic mod 2^64:
    state += 0x9E3779B97F4A7C15; z = state; z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EB; return z ^ (z >> 31)
  uniform  u = float(z >> 11) * 2^-53 (exact double in [0, 1));
  gaussian g = (((u1 + u2) + u3) + ... + u12) - 6.0: 12 consecutive uniforms summed left to
           right in double, then minus 6.0 (no fused multiply-add anywhere).
  "uniform"   batch: initial state 10 d + 1; rows i = 0..N-1, entries j = 0..d-1 in that order:
              f32(g) (round to nearest f32).
  "clustered" batch: initial state 10 d + 2; first 3 centres of d consecutive g each (double),
              each normalised to unit length: s = 0.0; s += x * x over its d entries left to right
              (product, then sum, each rounded to double); n = sqrt(s) (correctly rounded); entry
              x / n (one IEEE division). Then for i = 0..N-1, j = 0..d-1:
              f32(centre[i % 3][j] + (0.3 / sqrt(d)) * g) (sqrt(d) correctly rounded; product,
              then sum, each rounded to double). The noise has norm ~0.3 against the unit centre,
              so within a cluster the cosines are ~1/(1 + 0.09) ~ 0.92 (0.911..0.924 at d = 1024,
              0.914..0.920 at d = 8192), across clusters ~0 (-0.049..0.074 at d = 1024,
              -0.020..0.015 at d = 8192).
  Each batch stores "generator": name, seed, n, d, recipe and, as a check, row0_first4 (the first
  4 entries of row 0) and last_row_last (entry [N-1][d-1]), as JSON numbers (Python repr).
  N = 16.
Every float parameter is the exact f64 the Rust side uses: t = mp.mpf(2.0/d) of a Python float,
cosines are Python floats (stored as floats in the JSON, so Rust parses the same f64).

Precision: at least mp.dps = 60 + d//8, raised until the computed phi(-1), phi'(-1), phi''(-1)
(the most cancelling point: sum_l a_l = 1 while phi(-1) ~ e^{-0.31 d} at t = 2/d) keep at least
45 significant digits above the rounding level of the sum (|value| >= 10^(45-dps) * value at c=1);
afterwards phi and phi' at every c (grid and KL pairs) are checked the same way (>= 35 digits),
else the script stops (phi'' is covered by the cross-check below). At t = 2/d the rule raises
d = 8192 to 1147 digits, and d = 1024 at t = 0.5/d to 1529.
Cross-check: the heat cases d = 2048 (t = 2/d and 5/d), d = 1024 (t = 0.5/d) and d = 8192
(t = 2/d), and the KL "uniform" batch at d = 8192, are recomputed from scratch with 50 more
digits; every phi, phi', phi'', ln Z (KL: both losses, every ln q_i, gradient entry, gradient
row norm and dot) must agree to 1e-20 relative (asserted). Measured worst disagreements:
1.5e-64, 1.7e-306, 9.6e-65, 9.8e-53, 5.2e-1091; stored under "precision_check". (The gradient
is assembled at 60 digits from the high-precision phi', so this check mostly covers its inputs;
the FD check covers the formula.) The FD check of the KL gradients re-evaluates
the loss at full precision (agreement 1e-50 or better; the entries are picked by
random.Random(seed + 7) and stored with the values). Sanity: d = 256, t = 5/d reproduces
SPEC section 2 (phi(-1) = 0.0294716287, 1/Z = 0.181153268); d = 2048, t = 2/d gives
phi(-1) = 3.67e-275 as quoted in issue 11.

Usage: nice -n 10 python3 make_highd_values.py highd_values.json
       (pip install mpmath gmpy2; gmpy2 makes mpmath much faster.) Uses the main process plus one
       worker process. Takes about 3-4 minutes on two shared cores (185 s wall measured, under
       load; dominated by the d = 8192 KL batches and their cross-check). Output is ~376 KB,
       about two thirds of it the KL gradient columns.
"""
import json, math, random, struct, sys, time
import multiprocessing as mproc
import mpmath as mp

CS = [-1.0, -0.999, -0.99, -0.9, -0.7, -0.5, -0.3, -0.2, -0.1, -0.05, -0.02, 0.0, 0.01, 0.02,
      0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.7, 0.9, 0.99, 1.0]
HEAT_D = [512, 1024, 2048, 4096, 8192]
BAND_D = [512, 4096, 8192]
KL_D = [1024, 2048, 4096, 8192]
KL_N = 16
DIG = 25           # significant digits of kernel values
GDIG = 20          # significant digits of the gradient
GCOLS = 64         # gradient columns stored per row
LN10 = math.log(10)


def s(x, n=DIG):
    return mp.nstr(x, n, min_fixed=1, max_fixed=0) if x != 0 else '0'


def ndim_ints(d, L):
    """Exact integer N(d, l), l = 0..L."""
    out = [1]
    B = 1  # binom(l + d - 2, l)
    for l in range(1, L + 1):
        B = B * (l + d - 2) // l
        num = (2 * l + d - 2) * B
        assert num % (l + d - 2) == 0
        out.append(num // (l + d - 2))
    return out


class Kernel:
    """Coefficients a_l = w_l N(d,l)/Z at the current mp.dps (heat: infinite series)."""

    def __init__(self, kind, d, par):
        self.kind, self.d, self.par = kind, d, par
        dps = mp.mp.dps
        if kind == 'band':
            L = int(par)
            w = [mp.mpf(1)] * (L + 1)
            Ns = ndim_ints(d, L)
        else:
            t = mp.mpf(par)  # exact f64
            tf = float(par)
            Ns, lts = [1], [0.0]
            B, l, maxlt = 1, 0, 0.0
            lim = dps * LN10 + 8 * LN10
            while True:
                l += 1
                if l > 200000:
                    raise RuntimeError('heat series did not converge')
                B = B * (l + d - 2) // l
                num = (2 * l + d - 2) * B
                Ns.append(num // (l + d - 2))
                lt = math.log(Ns[-1]) - tf * l * (l + d - 2)
                lts.append(lt)
                maxlt = max(maxlt, lt)
                # past the peak, below 10^-(dps+8) of the largest term (<= Z), and decaying
                # at least geometrically by 1/2 (term ratios decrease in l): tail < term
                if lt < lts[-2] - LN10 and lt < maxlt - lim:
                    break
            L = l
            w = [mp.exp(-t * (k * (k + d - 2))) for k in range(L + 1)]
        terms = [w[k] * mp.mpf(Ns[k]) for k in range(L + 1)]
        self.Z = mp.fsum(terms)
        self.L = L
        self.a = [x / self.Z for x in terms]
        self.al = [None] + [mp.mpf(2 * k + d - 2) / (k + d - 2) for k in range(1, L)]
        self.bl = [None] + [mp.mpf(k) / (k + d - 2) for k in range(1, L)]
        lam = [k * (k + d - 2) for k in range(L + 1)]
        # scales = phi^(k)(1) (all a_l >= 0, |P_l^(k)| <= P_l^(k)(1))
        s1 = mp.fsum(self.a[k] * lam[k] for k in range(L + 1)) / (d - 1)
        s2 = mp.fsum(self.a[k] * lam[k] * (lam[k] - (d - 1)) for k in range(L + 1)) / ((d - 1) * (d + 1))
        self.scale = (mp.mpf(1), s1, s2)
        self.m1 = (mp.fsum(self.a[k] * (-1) ** k for k in range(L + 1)),
                   mp.fsum(self.a[k] * (-1) ** (k + 1) * lam[k] for k in range(L + 1)) / (d - 1),
                   mp.fsum(self.a[k] * (-1) ** k * lam[k] * (lam[k] - (d - 1)) for k in range(L + 1)) / ((d - 1) * (d + 1)))

    def digits_left(self, vals):
        """Significant digits of each value above the rounding level of its sum."""
        out = []
        for v, sc in zip(vals, self.scale):
            if v == 0:
                out.append(-1e9)
            else:
                out.append(mp.mp.dps + float(mp.log10(abs(v) / sc)))
        return out

    def eval(self, c, nder=2):
        """phi, phi', phi'' (or fewer) at mpf c by the three-term recurrence."""
        a, al, bl, L = self.a, self.al, self.bl, self.L
        one, zero = mp.mpf(1), mp.mpf(0)
        P0, P1 = one, c
        D0, D1 = zero, one
        E0, E1 = zero, zero
        s0 = [a[0]]
        if L >= 1:
            s0.append(a[1] * c)
        s1 = [a[1]] if L >= 1 else []
        s2 = []
        for l in range(1, L):
            A, B, an = al[l], bl[l], a[l + 1]
            Pn = A * (c * P1) - B * P0
            s0.append(an * Pn)
            if nder >= 1:
                Dn = A * (P1 + c * D1) - B * D0
                s1.append(an * Dn)
                if nder >= 2:
                    En = A * (2 * D1 + c * E1) - B * E0
                    s2.append(an * En)
                    E0, E1 = E1, En
                D0, D1 = D1, Dn
            P0, P1 = P1, Pn
        return mp.fsum(s0), mp.fsum(s1), mp.fsum(s2)


def make_kernel(kind, d, par, extra=0):
    """Kernel at a precision raised until c = -1 keeps >= 45 digits."""
    dps = 60 + d // 8 + extra
    while True:
        mp.mp.dps = dps
        K = Kernel(kind, d, par)
        left = min(K.digits_left(K.m1))
        if left >= 45 + 0.999:
            return K, dps
        need = int(mp.mp.dps - left) + 1
        dps = max(dps + 20, need + 60 + extra)


def f32(x):
    return struct.unpack('f', struct.pack('f', x))[0]


def real_roots(K):
    """Real roots in [-1, 1] of the band-limited polynomial phi."""
    d, L = K.d, K.L
    polys = [[mp.mpf(1)], [mp.mpf(0), mp.mpf(1)]]  # ascending coefficients
    for l in range(1, L):
        A = mp.mpf(2 * l + d - 2) / (l + d - 2)
        B = mp.mpf(l) / (l + d - 2)
        p = [mp.mpf(0)] + [A * x for x in polys[l]]
        for i, x in enumerate(polys[l - 1]):
            p[i] -= B * x
        polys.append(p)
    coef = [mp.mpf(0)] * (L + 1)
    for l in range(L + 1):
        for i, x in enumerate(polys[l]):
            coef[i] += K.a[l] * x
    roots = mp.polyroots(list(reversed(coef)), maxsteps=200, extraprec=200)
    out = []
    for r in roots:
        if abs(mp.im(r)) < mp.mpf(10) ** (-mp.mp.dps // 2) and -1 <= mp.re(r) <= 1:
            out.append(mp.re(r))
    return sorted(out)


def kernel_job(kind, d, par, extra=0):
    T0 = time.time()
    K, dps = make_kernel(kind, d, par, extra)
    cs = list(CS)
    roots = []
    if kind == 'band':
        roots = real_roots(K)
        for r in roots:
            for fac in (1 - 1e-7, 1 + 1e-7):
                cs.append(float(r * fac))
        cs = sorted(set(cs))
    vals, worst = [], 1e9
    for c in cs:
        v = K.eval(mp.mpf(c))
        left = K.digits_left(v)
        # phi and phi' must keep >= 35 digits; phi'' may pass through 0 (then only absolute)
        if min(left[0], left[1]) < 35:
            raise RuntimeError('precision too low at %s %d %r c=%r: %r' % (kind, d, par, c, left))
        worst = min(worst, left[0], left[1])
        e = {'c': c}
        if kind == 'heat':
            assert v[0] > 0
            e.update({'ln_phi': s(mp.log(v[0])), 'd1_over_phi': s(v[1] / v[0]),
                      'd2_over_phi': s(v[2] / v[0])})
        e.update({'phi': s(v[0]), 'd1': s(v[1]), 'd2': s(v[2])})
        e['_raw'] = v
        vals.append(e)
    out = {'d': d, 'ln_z': s(mp.log(K.Z)), 'inv_z': s(1 / K.Z), 'degree_summed': K.L, 'dps': dps,
           'min_digits_left': round(worst, 1)}
    if kind == 'heat':
        out = dict({'d': d, 't': float(par)}, **out)
    else:
        out = dict({'d': d, 'L': int(par), 'roots': [s(r) for r in roots]}, **out)
    out['values'] = vals
    out['_raw_lnz'] = mp.log(K.Z)
    print('%-5s d=%5d par=%-22r L=%5d dps=%5d  %.1fs' % (kind, d, par, K.L, dps, time.time() - T0),
          file=sys.stderr, flush=True)
    return out


# ---------------------------------------------------------------- KDE-KL

M64 = (1 << 64) - 1
GEN_NAME = 'splitmix64-irwin-hall-12'


class SplitMix64:
    """SplitMix64 with an approximate Gaussian (Irwin-Hall, 12 uniforms). Only integer and
    IEEE-exact double operations, so the Rust test reproduces every value bit for bit."""

    def __init__(self, state):
        self.state = state & M64

    def next_u64(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & M64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return z ^ (z >> 31)

    def uniform(self):
        return float(self.next_u64() >> 11) * 2.0 ** -53       # exact: 53-bit integer * 2^-53

    def gauss(self):
        acc = self.uniform()
        for _ in range(11):
            acc += self.uniform()                                # left to right, IEEE double
        return acc - 6.0


def batch_seed(kind, d):
    return 10 * d + (1 if kind == 'uniform' else 2)


def batch_rows(kind, d, seed):
    rng = SplitMix64(seed)
    if kind == 'uniform':
        return [[f32(rng.gauss()) for _ in range(d)] for _ in range(KL_N)]
    cents = [[rng.gauss() for _ in range(d)] for _ in range(3)]   # doubles
    for c in cents:                                                 # unit length, IEEE-exact
        sq = 0.0
        for x in c:
            sq += x * x                                             # left to right, no FMA
        n = math.sqrt(sq)
        c[:] = [x / n for x in c]
    sig = 0.3 / math.sqrt(d)
    return [[f32(cents[i % 3][k] + sig * rng.gauss()) for k in range(d)] for i in range(KL_N)]


def dot_vector(d):
    """The vector v of "grad_dots": d Gaussians (doubles) from SplitMix64(10 d + 3)."""
    rng = SplitMix64(10 * d + 3)
    return [rng.gauss() for _ in range(d)]


def kl_A(K, C, Phi0, i):
    """A from the cosine matrix C, re-evaluating only the pairs of row i (others from Phi0)."""
    N = len(C)
    Phi = [list(r) for r in Phi0]
    for j in range(N):
        if j != i:
            Phi[i][j] = Phi[j][i] = K.eval(C[i][j], nder=0)[0]
    lnq = [mp.log(mp.fsum(Phi[k][j] for j in range(N) if j != k) / (N - 1)) for k in range(N)]
    return mp.fsum(lnq) / N


def kl_job(kind, d, seed, extra=0):
    T0 = time.time()
    t = 2.0 / d
    K, dps = make_kernel('heat', d, t, extra)
    rows = batch_rows(kind, d, seed)
    N = len(rows)
    Zm = [[mp.mpf(x) for x in r] for r in rows]          # exact (f32 values)
    G = [[mp.fdot(Zm[i], Zm[j]) for j in range(N)] for i in range(N)]  # exact at this precision
    nrm = [mp.sqrt(G[i][i]) for i in range(N)]

    def cosines(G, nrm):
        C = [[mp.mpf(1)] * N for _ in range(N)]
        for i in range(N):
            for j in range(i + 1, N):
                C[i][j] = C[j][i] = G[i][j] / (nrm[i] * nrm[j])
        return C

    C = cosines(G, nrm)
    Phi = [[None] * N for _ in range(N)]
    Dph = [[None] * N for _ in range(N)]
    for i in range(N):
        for j in range(i + 1, N):
            v = K.eval(C[i][j], nder=1)
            left = K.digits_left((v[0], v[1]))
            if min(left) < 35:
                raise RuntimeError('KL precision too low d=%d c=%s' % (d, C[i][j]))
            Phi[i][j] = Phi[j][i] = v[0]
            Dph[i][j] = Dph[j][i] = v[1]
    q = [mp.fsum(Phi[i][j] for j in range(N) if j != i) / (N - 1) for i in range(N)]
    lnq = [mp.log(x) for x in q]
    A = mp.fsum(lnq) / N
    lnZ = mp.log(K.Z)
    lnS = mp.log(2) + (mp.mpf(d) / 2) * mp.log(mp.pi) - mp.loggamma(mp.mpf(d) / 2)
    raw = A + lnZ
    paper = (A - lnS) / (-lnS)
    # analytic gradient: W_kj = phi'(c_kj)(1/q_k + 1/q_j)/(N(N-1)); g_k = sum_j W_kj x_j;
    # dL/dz_k = (g_k - (x_k.g_k) x_k)/|z_k|. Assembled at dps 60 (no cancellation here).
    W = [[(Dph[k][j] * (1 / q[k] + 1 / q[j]) / (N * (N - 1)) if j != k else None) for j in range(N)]
         for k in range(N)]
    hp = mp.mp.dps
    grad = []
    with mp.workdps(60):
        X = [[z / nrm[i] for z in Zm[i]] for i in range(N)]
        for k in range(N):
            g = [mp.fsum(W[k][j] * X[j][m] for j in range(N) if j != k) for m in range(d)]
            xg = mp.fdot(X[k], g)
            grad.append([(g[m] - xg * X[k][m]) / nrm[k] for m in range(d)])
        vdot = dot_vector(d)
        vm = [mp.mpf(x) for x in vdot]                    # exact doubles
        gnorm = [mp.sqrt(mp.fdot(r, r)) for r in grad]
        gdot = [mp.fdot(r, vm) for r in grad]
    # central finite difference on two entries, at full precision
    h = mp.mpf(10) ** -25
    rnd = random.Random(seed + 7)
    fd = []
    for _ in range(2):
        i, m = rnd.randrange(N), rnd.randrange(d)
        vals = []
        for sg in (1, -1):
            Zp = [list(r) for r in Zm]
            Zp[i][m] += sg * h
            Gp = [list(r) for r in G]
            for j in range(N):
                Gp[i][j] = Gp[j][i] = mp.fdot(Zp[i], Zp[j])
            nrmp = list(nrm)
            nrmp[i] = mp.sqrt(Gp[i][i])
            Cp = cosines(Gp, nrmp)
            vals.append(kl_A(K, Cp, Phi, i) + lnZ)
        fdv = (vals[0] - vals[1]) / (2 * h)
        rel = abs(fdv - grad[i][m]) / abs(grad[i][m])
        assert rel < 1e-12, ('FD check failed', d, kind, i, m, fdv, grad[i][m])
        fd.append({'row': i, 'col': m, 'fd': s(fdv, GDIG), 'analytic': s(grad[i][m], GDIG),
                   'rel_diff': mp.nstr(rel, 3)})
    cmin = min(C[i][j] for i in range(N) for j in range(i + 1, N))
    cmax = max(C[i][j] for i in range(N) for j in range(i + 1, N))
    gen = {'name': GEN_NAME, 'seed': seed, 'n': N, 'd': d,
           'recipe': ('row-major f32(g)' if kind == 'uniform' else
                      '3 centres of d g each (double), each divided by n = sqrt(s), '
                      's = 0.0 + x*x summed left to right over its entries (double), then '
                      'row-major f32(centre[i % 3][j] + (0.3 / sqrt(d)) * g)'),
           'row0_first4': rows[0][:4], 'last_row_last': rows[N - 1][d - 1]}
    out = {'d': d, 't': t, 'batch': kind, 'seed': seed, 'n': N, 'dps': dps, 'generator': gen,
           'cos_range': [float(cmin), float(cmax)], 'ln_z': s(lnZ),
           'raw_loss': s(raw), 'paper_loss': s(paper), 'ln_q': [s(x) for x in lnq],
           'fd_check': fd,
           'grad_ncols': GCOLS,
           'grad_cols': [[s(x, GDIG) for x in r[:GCOLS]] for r in grad],
           'grad_row_norms': [s(x, GDIG) for x in gnorm],
           'grad_dot_vector': {'name': GEN_NAME, 'seed': 10 * d + 3, 'len': d,
                               'first4': vdot[:4], 'last': vdot[-1]},
           'grad_dots': [s(x, GDIG) for x in gdot],
           '_raw': [raw, paper] + lnq + [x for r in grad for x in r] + gnorm + gdot}
    print('kl    d=%5d %-9s raw=%s paper=%s  %.1fs' % (d, kind, s(raw, 12), s(paper, 12),
                                                       time.time() - T0), file=sys.stderr, flush=True)
    return out


# ---------------------------------------------------------------- driver

def run(job):
    kind = job[0]
    if kind in ('kl', 'klcheck'):
        return job, kl_job(*job[1:])
    return job, kernel_job(*job[1:])


def jobs_and_costs():
    jobs = []
    for d in HEAT_D:
        ts = [2.0 / d, 5.0 / d] + ([0.5 / d, 20.0 / d] if d == 1024 else [])
        for t in ts:
            jobs.append((('heat', 'heat', d, t), d * d * 1.0))
    for d in BAND_D:
        for L in (2, 3):
            jobs.append((('band', 'band', d, L), 1.0))
    for d in KL_D:
        for kind in ('uniform', 'clustered'):
            jobs.append((('kl', kind, d, batch_seed(kind, d)), d * d * 12.0))
    # precision cross-check: the same cases with 50 more digits
    for d, t in ((2048, 2.0 / 2048), (2048, 5.0 / 2048), (1024, 0.5 / 1024), (8192, 2.0 / 8192)):
        jobs.append((('check', 'heat', d, t, 50), d * d * 1.0))
    jobs.append((('klcheck', 'uniform', 8192, batch_seed('uniform', 8192), 50), 8192 * 8192 * 12.0))
    return jobs


def compare(a, b):
    """Worst relative disagreement of phi, phi', phi'', ln Z between two runs of one case
    (KL: raw and paper loss, ln q_i, every gradient entry, gradient norms and dots)."""
    if 'values' not in a:
        return max(abs(x - y) / abs(y) for x, y in zip(a['_raw'], b['_raw']) if y != 0)
    worst = abs(a['_raw_lnz'] - b['_raw_lnz']) / abs(b['_raw_lnz'])
    for ea, eb in zip(a['values'], b['values']):
        assert ea['c'] == eb['c']
        for k in range(3):
            x, y = ea['_raw'][k], eb['_raw'][k]
            if y != 0:
                worst = max(worst, abs(x - y) / abs(y))
    return worst


def strip(o):
    for e in o['values']:
        e.pop('_raw')
    o.pop('_raw_lnz')
    return o


def dump(o, ind=0):
    """JSON with one line per list of scalars (rows, gradient rows)."""
    sp = ' ' * ind
    if isinstance(o, dict):
        items = [' ' * (ind + 1) + json.dumps(k) + ': ' + dump(v, ind + 1) for k, v in o.items()]
        return '{\n' + ',\n'.join(items) + '\n' + sp + '}'
    if isinstance(o, list):
        if all(not isinstance(x, (list, dict)) for x in o):
            return json.dumps(o, separators=(',', ':'))
        return '[\n' + ',\n'.join(' ' * (ind + 1) + dump(x, ind + 1) for x in o) + '\n' + sp + ']'
    return json.dumps(o)


def main():
    T0 = time.time()
    jobs = sorted(jobs_and_costs(), key=lambda jc: -jc[1])
    # split into two halves of equal estimated cost: one worker process + the main process
    mine, theirs, cm, ct = [], [], 0.0, 0.0
    for j, c in jobs:
        if ct <= cm:
            theirs.append(j); ct += c
        else:
            mine.append(j); cm += c
    results = {}
    with mproc.Pool(1) as pool:
        pending = pool.map_async(run, theirs, chunksize=1)
        for j in mine:
            results[j] = run(j)[1]
        for j, r in pending.get():
            results[j] = r
    kernels, bands, kls = [], [], []
    for d in HEAT_D:
        for j in sorted((j for j in results if j[0] == 'heat' and j[2] == d), key=lambda j: j[3]):
            kernels.append(results[j])
    for d in BAND_D:
        for L in (2, 3):
            bands.append(results[('band', 'band', d, L)])
    for d in KL_D:
        for kind in ('uniform', 'clustered'):
            kls.append(results[('kl', kind, d, batch_seed(kind, d))])
    checks = []
    for j in list(results):
        if j[0] in ('check', 'klcheck'):
            base = ('heat',) + j[1:4] if j[0] == 'check' else ('kl',) + j[1:4]
            w = compare(results[base], results[j])
            what = 'kernel' if j[0] == 'check' else 'kl ' + j[1]
            print('precision check %s d=%d: worst rel diff %s' % (what, j[2], mp.nstr(w, 3)),
                  file=sys.stderr)
            assert w < 1e-20, ('precision check failed', j, w)
            c = {'case': what, 'd': j[2], 'extra_digits': j[4], 'dps': results[base]['dps'],
                 'dps_check': results[j]['dps'], 'worst_rel_diff': mp.nstr(w, 3)}
            if j[0] == 'check':
                c['t'] = j[3]
            checks.append(c)
    maxln = max(abs(float(e['ln_phi'])) for k in kernels for e in k['values'])
    out = {'generator': 'tests/data/make_highd_values.py (mpmath %s, dps >= 60 + d//8)' % mp.__version__,
           'c_grid': CS,
           'precision_check': checks,
           'max_abs_ln_phi': maxln,
           'kernels': [strip(k) for k in kernels],
           'bandlimited': [strip(b) for b in bands],
           'kl': [dict((k, v) for k, v in o.items() if k != '_raw') for o in kls]}
    with open(sys.argv[1], 'w') as f:
        f.write(dump(out) + '\n')
    print('done in %.1f s; max |ln phi| = %.3f' % (time.time() - T0, maxln), file=sys.stderr)


if __name__ == '__main__':
    main()
