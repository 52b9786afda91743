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
scale) on random rows.
"""
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
    return [v / z for v in terms[:keep]]


def _phi_and_slope(c: torch.Tensor, a, d: int):
    """``(phi(c) - a_0, phi'(c))`` by the recurrence (value and derivative together)."""
    p_prev, p = torch.ones_like(c), c.clone()
    dp_prev, dp = torch.zeros_like(c), torch.ones_like(c)
    value = a[1] * p if len(a) > 1 else torch.zeros_like(c)
    slope = a[1] * dp if len(a) > 1 else torch.zeros_like(c)
    for l in range(1, len(a) - 1):
        k1, k2, den = 2 * l + d - 2, l, l + d - 2
        p_next = (k1 * c * p - k2 * p_prev) / den
        dp_next = (k1 * (p + c * dp) - k2 * dp_prev) / den
        p_prev, p, dp_prev, dp = p, p_next, dp, dp_next
        value = value + a[l + 1] * p
        slope = slope + a[l + 1] * dp
    return value, slope


class _HeatMMD(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, a, d, block):
        n = x.shape[0]
        total = x.new_zeros((), dtype=torch.float64)
        grad = torch.empty_like(x) if ctx.needs_input_grad[0] else None
        for start in range(0, n, block):
            g = x[start : start + block] @ x.T
            v, s = _phi_and_slope(g, a, d)
            total = total + v.sum(dtype=torch.float64)
            if grad is not None:
                grad[start : start + block] = (s @ x) * (2.0 / (n * n))
        ctx.save_for_backward(grad if grad is not None else x.new_empty(0))
        return (total / (n * n)).to(x.dtype)

    @staticmethod
    def backward(ctx, g):
        (grad,) = ctx.saved_tensors
        return g * grad, None, None, None


def heat_mmd(x: torch.Tensor, t: float, block_elems: int = 1 << 20) -> torch.Tensor:
    """The raw-scale heat MMD of the unit rows ``x``, differentiable."""
    n, d = x.shape
    a = heat_coefficients(d, t)
    return _HeatMMD.apply(x, a, d, max(1, block_elems // n))


if __name__ == "__main__":
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
