"""The device path: an objective's plan (``Objective.plan``, the crate's own tables
and constants) computed with torch operations where the tensor lives (CPU, CUDA,
MPS), in blocks of rows of the Gram matrix, never an ``N x N`` matrix.

Forward passes keep ``O(N)`` statistics per view; backward passes recompute each
block and form the analytic gradient (``W X``, carried back through the
normalisation). Every function takes the rows in their compute dtype (float32 or
float64) and returns plain tensors; autograd is handled by the caller.
"""
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch

# The default block: block_rows * N is at most this many pairs (of rows, or of a
# row and a direction for the sliced objectives).
DEFAULT_BLOCK_PAIRS = 1 << 24


def block_rows(n: int, block: Optional[int]) -> int:
    """Rows per block of the Gram matrix for a batch of ``n`` rows."""
    if block is not None:
        return max(1, int(block))
    return max(1, DEFAULT_BLOCK_PAIRS // max(n, 1))


class Table:
    """A plan's table on a device, in one dtype: value and slope coefficients
    (``intervals x (degree + 1)``) and the interval lookup's constants. The offset
    is added to the value's constant coefficients in float64, before the rounding
    to the compute dtype."""

    def __init__(self, spec: Dict[str, Any], offset: float, device, dtype):
        value = np.array(spec["value"], dtype=np.float64)
        value[:, 0] += offset
        self.value = torch.as_tensor(value, dtype=dtype, device=device)
        self.slope = torch.as_tensor(np.asarray(spec["slope"]), dtype=dtype, device=device)
        self.lo, self.hi = float(spec["lo"]), float(spec["hi"])
        self.intervals = int(spec["intervals"])
        h = (self.hi - self.lo) / self.intervals
        self.h, self.inv_h = h, 1.0 / h

    def eval(self, x: torch.Tensor, slope: bool) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """The value (and, if ``slope``, the slope) at every entry of ``x``, clamped
        into the table's range: the interval by one multiply and a floor (uniform
        intervals, no search), the local polynomial by Horner's rule."""
        x = x.clamp(self.lo, self.hi)
        i = torch.floor((x - self.lo) * self.inv_h).clamp_(0, self.intervals - 1)
        t = (x - (i * self.h + self.lo)) * (2.0 * self.inv_h) - 1.0
        index = i.to(torch.int64)

        def horner(coeffs: torch.Tensor) -> torch.Tensor:
            degree = coeffs.shape[1] - 1
            acc = coeffs[:, degree].take(index)
            for k in range(degree - 1, -1, -1):
                acc = acc.mul_(t).add_(coeffs[:, k].take(index))
            return acc

        return horner(self.value), (horner(self.slope) if slope else None)


def unit_rows(z: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(x, r)``: the unit rows and the norms (``N x 1``), robust to huge and tiny
    rows (each row is divided by its largest magnitude first)."""
    largest = z.abs().amax(dim=-1, keepdim=True)
    scaled = z / largest.clamp_min(torch.finfo(z.dtype).tiny)
    r = scaled.norm(dim=-1, keepdim=True)
    return scaled / r, largest * r


def chain(x: torch.Tensor, r: torch.Tensor, g: torch.Tensor, factor: float) -> torch.Tensor:
    """``factor (I - x_i x_i^T) g_i / |z_i|``: a gradient on the unit rows carried
    back to the raw rows."""
    radial = (g * x).sum(dim=-1, keepdim=True)
    return (g - x * radial) * (factor / r)


def _blocks(n: int, block: int):
    for start in range(0, n, block):
        yield start, min(block, n - start)


def _diagonal(start: int, rows: int, n: int, offset: int, device) -> Tuple[torch.Tensor, torch.Tensor]:
    """The (row, column) indices of the pairs ``(i, i)`` in the block of rows
    ``start .. start + rows`` (global index ``offset + start + a``) against ``n``
    columns."""
    a = torch.arange(rows, device=device)
    j = a + offset + start
    keep = j < n
    return a[keep], j[keep]


# ---------------------------------------------------------------------------
# Zonal: loss = factor * mean_{i,j} (f(c_ij) + offset)
# ---------------------------------------------------------------------------


def zonal_sum(x: torch.Tensor, xs: torch.Tensor, f: Table, block: int) -> torch.Tensor:
    """``sum_{i in xs, j} f(x_i . x_j)`` (the rows ``xs`` against all rows ``x``)."""
    total = torch.zeros((), dtype=torch.float64, device=x.device)
    for start, rows in _blocks(xs.shape[0], block):
        c = xs[start : start + rows] @ x.T
        v, _ = f.eval(c, False)
        total = total + v.sum(dtype=torch.float64)
    return total


def zonal_grad(
    x: torch.Tensor, xs: torch.Tensor, first: int, f: Table, block: int
) -> torch.Tensor:
    """``sum_{j != i} f'(x_i . x_j) x_j`` for the rows ``xs`` (global rows
    ``first ..``): the pair ``(i, i)`` is radial, and left out."""
    n = x.shape[0]
    out = torch.empty_like(xs)
    for start, rows in _blocks(xs.shape[0], block):
        c = xs[start : start + rows] @ x.T
        _, w = f.eval(c, True)
        a, j = _diagonal(start, rows, n, first, x.device)
        w[a, j] = 0.0
        out[start : start + rows] = w @ x
    return out


# ---------------------------------------------------------------------------
# Log density (KDE-KL): ln S_i = logsumexp_{j != i} v(h_ij), h = sqrt((1 + c)/2)
# ---------------------------------------------------------------------------


def _log_values(c: torch.Tensor, f: Table, slope: bool):
    h = ((c.clamp(-1.0, 1.0) + 1.0) * 0.5).sqrt()
    return f.eval(h, slope)


def log_densities(x: torch.Tensor, xs: torch.Tensor, first: int, f: Table, block: int) -> torch.Tensor:
    """``ln S_i`` for the rows ``xs`` (global rows ``first ..``) against all rows."""
    n = x.shape[0]
    out = torch.empty(xs.shape[0], dtype=x.dtype, device=x.device)
    for start, rows in _blocks(xs.shape[0], block):
        v, _ = _log_values(xs[start : start + rows] @ x.T, f, False)
        a, j = _diagonal(start, rows, n, first, x.device)
        v[a, j] = float("-inf")
        out[start : start + rows] = torch.logsumexp(v, dim=1)
    return out


def log_density_grad(
    x: torch.Tensor, xs: torch.Tensor, first: int, ln_s: torch.Tensor, f: Table, block: int
) -> torch.Tensor:
    """``sum_j (phi'/phi)(c_ij) (exp(v_ij - ln S_i) + exp(v_ij - ln S_j)) x_j`` for
    the rows ``xs`` (global rows ``first ..``); ``ln_s`` of every row."""
    n = x.shape[0]
    out = torch.empty_like(xs)
    cols = ln_s.reshape(1, n)
    for start, rows in _blocks(xs.shape[0], block):
        v, s = _log_values(xs[start : start + rows] @ x.T, f, True)
        a, j = _diagonal(start, rows, n, first, x.device)
        v[a, j] = float("-inf")
        mine = ln_s[first + start : first + start + rows].reshape(rows, 1)
        w = s * ((v - mine).exp() + (v - cols).exp())
        out[start : start + rows] = w @ x
    return out


# ---------------------------------------------------------------------------
# Radial (SIGReg's twin): h(|z_i - z_j|^2) of the raw rows
# ---------------------------------------------------------------------------


def radial_sums(
    z: torch.Tensor,
    sq: torch.Tensor,
    delta: torch.Tensor,
    zs: torch.Tensor,
    first: int,
    h: Table,
    block: int,
    gradient: bool,
):
    """``sum_{i in zs, j} (h(s_ij) - delta_i - delta_j)`` and, with ``gradient``,
    the row weights ``sum_j h'(s_ij)`` and ``W Z`` for the rows ``zs`` (global rows
    ``first ..``)."""
    total = torch.zeros((), dtype=torch.float64, device=z.device)
    row_w = torch.empty(zs.shape[0], dtype=z.dtype, device=z.device) if gradient else None
    wz = torch.empty_like(zs) if gradient else None
    sq_cols, delta_cols = sq.reshape(1, -1), delta.reshape(1, -1)
    for start, rows in _blocks(zs.shape[0], block):
        g = zs[start : start + rows] @ z.T
        mine = slice(first + start, first + start + rows)
        s = (sq[mine].reshape(rows, 1) + sq_cols - 2.0 * g).clamp_min(0.0)
        v, w = h.eval(s, gradient)
        v = v - delta[mine].reshape(rows, 1) - delta_cols
        total = total + v.sum(dtype=torch.float64)
        if gradient:
            row_w[start : start + rows] = w.sum(dim=1)
            wz[start : start + rows] = w @ z
    return total, row_w, wz


# ---------------------------------------------------------------------------
# Sliced: Epps-Pulley statistics of the projections on the call's directions
# ---------------------------------------------------------------------------


def sliced_sums(
    y: torch.Tensor, a: torch.Tensor, plan: Dict[str, Any], target: torch.Tensor, chunk: int
) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(D, S)``, each ``M x K``: ``D_mk = sum_n (cos(t_k u_nm) - target_k)`` and
    ``S_mk = sum_n sin(t_k u_nm)`` of ``u = scale y a^T`` (this rank's rows)."""
    knots = torch.as_tensor(plan["knots"], dtype=y.dtype, device=y.device)
    scale = float(plan["scale"])
    ds, ss = [], []
    for start, rows in _blocks(a.shape[0], chunk):
        u = (y @ a[start : start + rows].T) * scale  # N x m
        ang = u.unsqueeze(-1) * knots  # N x m x K
        ds.append(ang.cos().sum(dim=0) - y.shape[0] * target)
        ss.append(ang.sin().sum(dim=0))
    return torch.cat(ds), torch.cat(ss)


def sliced_loss(d_sums: torch.Tensor, s_sums: torch.Tensor, n: int, weights: torch.Tensor) -> torch.Tensor:
    """The mean over directions of ``(1/N) sum_k w_k (D_k^2 + S_k^2)``."""
    ep = ((d_sums.square() + s_sums.square()) @ weights) / n
    return ep.mean()


def sliced_grad(
    y: torch.Tensor,
    a: torch.Tensor,
    plan: Dict[str, Any],
    d_sums: torch.Tensor,
    s_sums: torch.Tensor,
    n: int,
    chunk: int,
) -> torch.Tensor:
    """``(scale/M) sum_m dEP_m/du_nm a_m`` for the rows ``y`` (any of the ``n``),
    with ``dEP/du_n = (2/N) sum_k w_k t_k (S_k cos(t_k u_n) - D_k sin(t_k u_n))``."""
    knots = torch.as_tensor(plan["knots"], dtype=y.dtype, device=y.device)
    weights = torch.as_tensor(plan["weights"], dtype=y.dtype, device=y.device)
    scale, m = float(plan["scale"]), a.shape[0]
    coef = 2.0 * weights * knots / n
    out = torch.zeros_like(y)
    for start, rows in _blocks(m, chunk):
        ac = a[start : start + rows]
        ang = ((y @ ac.T) * scale).unsqueeze(-1) * knots  # N x m x K
        s_k, d_k = s_sums[start : start + rows] * coef, d_sums[start : start + rows] * coef
        du = (ang.cos() * s_k).sum(-1) - (ang.sin() * d_k).sum(-1)  # N x m
        out = out + du @ ac
    return out * (scale / m)


def sliced_chunk(n: int, knots: int, block: Optional[int]) -> int:
    """Directions per projection chunk: ``N x chunk x K`` angles at a time."""
    if block is not None:
        return max(1, int(block))
    return max(1, DEFAULT_BLOCK_PAIRS // max(n * knots, 1))


def tensors(plan: Dict[str, Any], keys: List[str], device, dtype) -> List[torch.Tensor]:
    """Plan arrays as tensors."""
    return [torch.as_tensor(np.asarray(plan[k]), dtype=dtype, device=device) for k in keys]
