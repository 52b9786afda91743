"""The PyTorch peer of the benchmarks: heat-kernel MMD written as a competent
PyTorch user would, with no help from unisphere (pure torch, any device).

``heat_mmd(x, t)``: the squared MMD between the unit rows ``x`` (``N x d``) and the
uniform distribution on ``S^{d-1}`` on the raw scale, ``mean_{i,j} phi(x_i . x_j) - C``,
for the heat kernel ``phi(c) = (1/Z) sum_l exp(-t l (l + d - 2)) N(d, l) P_l(d; c)``
(``P_l(d; 1) = 1``, ``N(d, l)`` the dimension of the degree-``l`` harmonics, ``C`` the
``l = 0`` term), truncated where the dropped tail is below ``1e-12`` of ``Z``. It
evaluates ``phi`` and ``phi'`` by the normalised Gegenbauer recurrence
``P_{l+1} = ((2l + d - 2) c P_l - l P_{l-1}) / (l + d - 2)`` on blocks of rows of the
Gram matrix (``O(block N)`` memory), and its autograd Function returns the gradient
``(2/N^2) phi'(G) X`` it formed in the forward (by the symmetry of ``G``).

Run ``python python/bench/peer_losses.py`` to check it against ``unisphere.Mmd`` (raw
scale) on random rows; ``python python/bench/peer_losses.py --bench --N 256 1024 --d 256
--reps 15 --threads 2`` prints its median time (ms) per N, forward and backward in
float32, each after three warm-up calls, calls back to back.
"""
import functools
import math

import torch


def _ln_harmonics(d: int, l: int) -> float:
    """``ln N(d, l)``: ``N(d, l) = (2l + d - 2)/(l + d - 2) * binom(l + d - 2, l)``."""
    if l == 0:
        return 0.0
    return (
        math.log(2 * l + d - 2)
        - math.log(l + d - 2)
        + math.lgamma(l + d - 1)
        - math.lgamma(l + 1)
        - math.lgamma(d - 1)
    )


@functools.lru_cache(maxsize=64)
def heat_coefficients(d: int, t: float, tail: float = 1e-12, cap: int = 2000):
    """``a_l = exp(-t l (l + d - 2)) N(d, l) / Z`` for ``l = 0..L``, ``L`` the first
    degree whose dropped tail is below ``tail`` of ``Z``."""
    ln = [-t * l * (l + d - 2) + _ln_harmonics(d, l) for l in range(cap)]
    top = max(ln)
    terms = [math.exp(v - top) for v in ln]
    z = sum(terms)
    total, keep = 0.0, cap
    for l, v in enumerate(terms):
        total += v
        if z - total < tail * z:
            keep = l + 1
            break
    return tuple(v / z for v in terms[:keep])


def _phi_and_slope(c: torch.Tensor, a, d: int, slope: bool = True):
    """``(phi(c) - a_0, phi'(c))`` by the recurrence, value and derivative together,
    updated in place (a handful of block-sized buffers)."""
    prev, cur = torch.ones_like(c), c.clone()  # P_0, P_1
    value = c * a[1]
    if slope:
        dprev, dcur = torch.zeros_like(c), torch.ones_like(c)  # P'_0, P'_1
        dvalue = torch.full_like(c, a[1])
    for l in range(1, len(a) - 1):
        up, down = (2 * l + d - 2) / (l + d - 2), l / (l + d - 2)
        if slope:  # P'_{l+1} = up (P_l + c P'_l) - down P'_{l-1}, before P_l is replaced
            dprev.mul_(-down).add_(cur, alpha=up).addcmul_(c, dcur, value=up)
            dprev, dcur = dcur, dprev
            dvalue.add_(dcur, alpha=a[l + 1])
        prev.mul_(-down).addcmul_(c, cur, value=up)  # P_{l+1} = up c P_l - down P_{l-1}
        prev, cur = cur, prev
        value.add_(cur, alpha=a[l + 1])
    return value, (dvalue if slope else None)


class _HeatMMD(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, a, d, block):
        n = x.shape[0]
        total = x.new_zeros((), dtype=torch.float64)
        grad = torch.empty_like(x) if ctx.needs_input_grad[0] else None
        for start in range(0, n, block):
            g = x[start : start + block] @ x.T
            v, s = _phi_and_slope(g, a, d, grad is not None)
            total = total + v.sum(dtype=torch.float64)
            if grad is not None:
                torch.mm(s, x, out=grad[start : start + block])
        if grad is not None:
            grad.mul_(2.0 / (n * n))
        ctx.save_for_backward(grad if grad is not None else x.new_empty(0))
        return (total / (n * n)).to(x.dtype)

    @staticmethod
    def backward(ctx, g):
        (grad,) = ctx.saved_tensors
        return g * grad, None, None, None


def heat_mmd(x: torch.Tensor, t: float, block_elems: int = 1 << 18) -> torch.Tensor:
    """The raw-scale heat MMD of the unit rows ``x``, differentiable."""
    n, d = x.shape
    a = heat_coefficients(d, t)
    return _HeatMMD.apply(x, a, d, max(1, block_elems // n))


def bench(sizes, d, reps, threads):
    """Median forward + backward time (ms) per N, calls back to back."""
    import statistics
    import time

    torch.set_num_threads(threads)
    for n in sizes:
        g = torch.Generator().manual_seed(n)
        z0 = torch.randn(n, d, generator=g)
        z0 = z0 / z0.norm(dim=1, keepdim=True)
        times = []
        for r in range(reps + 3):
            z = z0.clone().requires_grad_()
            start = time.perf_counter()
            heat_mmd(z, 5.0 / d).backward()
            if r >= 3:
                times.append(time.perf_counter() - start)
        print(f"heat N={n} d={d} median {1e3 * statistics.median(times):.3f} ms", flush=True)


def check():
    import unisphere

    for d in (3, 16, 256):
        g = torch.Generator().manual_seed(d)
        x = torch.randn(300, d, dtype=torch.float64, generator=g)
        x = (x / x.norm(dim=1, keepdim=True)).requires_grad_()
        loss = heat_mmd(x, 5.0 / d)
        loss.backward()
        want, grad = unisphere.Mmd(unisphere.Kernel.heat(d, 5.0 / d), "raw").loss_and_grad(x.detach().numpy())
        # unisphere's gradient is tangent (the radial part removed); compare tangents
        tangent = x.grad - (x.grad * x).sum(1, keepdim=True) * x
        err = (tangent - torch.from_numpy(grad)).abs().max().item()
        print(f"d={d}: loss {loss.item():.12e} vs {want:.12e}, gradient {err:.1e}")


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", action="store_true")
    ap.add_argument("--N", type=int, nargs="+", default=[256, 1024])
    ap.add_argument("--d", type=int, default=256)
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    if a.bench:
        bench(a.N, a.d, a.reps, a.threads)
    else:
        check()
