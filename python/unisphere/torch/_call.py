"""One forward of a regularizer module: the losses of its views and what the
backward pass needs, on the host path (the crate, through numpy) or the device
path (torch operations from the objective's plan), on one process or over the
global batch of a process group."""
import contextlib
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from . import _device as dev
from . import _dist


@contextlib.contextmanager
def exact_arithmetic(device: torch.device):
    """Autocast off and full-precision matmuls (no TF32) inside the op."""
    saved_tf32 = torch.backends.cuda.matmul.allow_tf32
    saved_precision = torch.get_float32_matmul_precision()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    try:
        if device.type in ("cpu", "cuda"):
            with torch.autocast(device_type=device.type, enabled=False):
                yield
        else:
            yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = saved_tf32
        torch.set_float32_matmul_precision(saved_precision)


class Options:
    """What a module asks of one forward."""

    def __init__(self, kind: str, device_path: bool, block_rows: Optional[int],
                 check_input: bool, distributed: bool, grad_scale: float, tables: Dict):
        self.kind = kind
        self.device_path = device_path
        self.block_rows = block_rows
        self.check_input = check_input
        self.distributed = distributed
        self.grad_scale = grad_scale
        self.tables = tables


def _numpy(z: torch.Tensor) -> np.ndarray:
    """The rows as a numpy array on the host (a view of CPU memory)."""
    return z.detach().cpu().numpy()


def _raise_crate_error(reg: Any, z: torch.Tensor) -> None:
    """The crate's own error for rows the device check refused (read back once)."""
    reg.loss(np.ascontiguousarray(_numpy(z)))
    raise ValueError("the rows have a row norm that overflows the compute dtype; rescale them")


class Call:
    """One forward of ``reg`` on the views ``(V, N, D)`` with ``opts``."""

    def __init__(self, reg: Any, opts: Options):
        self.reg = reg
        self.opts = opts
        self.saved: List[Any] = []
        self.sizes: Optional[List[int]] = None

    # -- forward -------------------------------------------------------------

    def forward(self, z: torch.Tensor, grad: bool) -> torch.Tensor:
        """The views' losses (``V``, on ``z``'s device, in its dtype). On the device
        path nothing is read back unless the input check or the plan needs it."""
        losses: List[torch.Tensor] = []
        step = getattr(self.reg, "step", None)
        plan = None
        with exact_arithmetic(z.device):
            for i in range(z.shape[0]):
                if step is not None:
                    self.reg.step = step  # every view: the forward's directions
                if self.opts.device_path:
                    loss, saved, plan = self._device_forward(z[i], grad, plan)
                else:
                    value, saved = self._host_forward(z[i], grad)
                    loss = torch.tensor(value, dtype=torch.float64)
                losses.append(loss.to(z.device))
                self.saved.append(saved)
        if step is not None:
            self.reg.step = step + 1
        return torch.stack(losses).to(z.dtype)

    def _exchange(self, z: torch.Tensor) -> Tuple[int, int, int, int]:
        """``(rank, world, start, N)`` of this rank's rows in the global batch."""
        rank, world = _dist.world()
        if self.sizes is None:
            self.sizes = _dist.counts(z.shape[0], z)
        return rank, world, sum(self.sizes[:rank]), sum(self.sizes)

    def _host_forward(self, z: torch.Tensor, grad: bool):
        reg = self.reg
        if not self.opts.distributed:
            x = _numpy(z)
            if grad:
                loss, g = reg.loss_and_grad(x)
                return float(loss), torch.from_numpy(g)
            return float(reg.loss(x)), None
        rank, world, start, n = self._exchange(z)
        if reg.needs_all_rows():
            rows = _numpy(_dist.all_gather_rows(z, self.sizes))
            span = (start, start + z.shape[0])
        else:
            rows, span = _numpy(z), (None, None)
        kind, numbers = reg.shard_begin(rows, *span)
        t = torch.from_numpy(numbers)
        if kind == "gather_rows":
            exchanged = _dist.all_gather_rows(t, self.sizes)
        elif kind == "sum":
            exchanged = _dist.all_reduce_sum(t)
        else:
            exchanged = t
        share, loss, g = reg.shard_finish(rows, exchanged.numpy(), *span)
        if loss is None:
            loss = _dist.all_reduce_sum(torch.tensor([share], dtype=torch.float64)).item()
        return float(loss), (torch.from_numpy(g) if grad else None)

    # -- the device path -----------------------------------------------------

    def _table(self, spec: Dict[str, Any], offset: float, like: torch.Tensor) -> dev.Table:
        key = (spec["fingerprint"], offset, like.device, like.dtype)
        table = self.opts.tables.get(key)
        if table is None:
            if len(self.opts.tables) > 16:
                self.opts.tables.clear()
            table = self.opts.tables[key] = dev.Table(spec, offset, like.device, like.dtype)
        return table

    def _checked_rows(self, z: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, Optional[np.ndarray]]:
        """``(x, r, host norms)``: the unit rows and norms on the device, the norms
        read back where the plan needs them (SIGReg's twin) or the check asks."""
        x, r = dev.unit_rows(z)
        host = None
        if self.opts.kind == "radial":
            host = r.reshape(-1).double().cpu().numpy()
            bad = not np.all(np.isfinite(host))
        elif self.opts.check_input:
            if self.reg.on_sphere():
                bad = not bool((torch.isfinite(r) & (r > 0)).all().item())
            else:
                bad = not bool(torch.isfinite(r).all().item())
        else:
            bad = False
        if bad:
            _raise_crate_error(self.reg, z)
        return x, r, host

    def _device_forward(self, z: torch.Tensor, grad: bool, plan):
        """The loss of one view on the device, what its backward needs, and the plan
        (a sliced forward plans once: every view takes its directions)."""
        n, d = z.shape
        required = self.reg.required_dim()
        too_few = n < 2 and not self.opts.distributed  # a rank may hold one row
        if too_few or n < 1 or d < 2 or (required is not None and required != d):
            _raise_crate_error(self.reg, z)  # the crate's shape error
        if self.opts.distributed:
            return self._device_forward_global(z, grad, plan)
        x, r, host = self._checked_rows(z)
        kind = self.opts.kind
        if plan is None or kind == "radial":
            norms = host if host is not None else np.ones(n)
            plan = self.reg.plan(d, norms, grad)
        block = dev.block_rows(n, self.opts.block_rows)
        if kind == "zonal":
            f = self._table(plan["table"], plan["offset"], z)
            total = dev.zonal_sum(x, x, f, block)
            return total * (plan["factor"] / (n * n)), (x, r, plan, f), plan
        if kind == "log_density":
            f = self._table(plan["table"], plan["offset"], z)
            ln_s = dev.log_densities(x, x, 0, f, block)
            loss = (ln_s.double() + plan["shift"]).sum() * (plan["factor"] / n)
            return loss, (x, r, plan, f, ln_s), plan
        if kind == "radial":
            h = self._table(plan["table"], plan["offset"], z)
            sq = (r.reshape(-1) ** 2)
            delta, radial = dev.tensors(plan, ["delta", "radial"], z.device, z.dtype)
            total, row_w, wz = dev.radial_sums(z, sq, delta, z, 0, h, block, grad)
            saved = (z, row_w, wz, radial, n) if grad else None
            return total / n, saved, plan
        return self._sliced_forward(z, x, r, grad, plan)

    def _sliced_forward(self, z: torch.Tensor, x: torch.Tensor, r: torch.Tensor, grad: bool, plan):
        n, d = z.shape
        if plan is None:
            total = self._exchange(z)[3] if self.opts.distributed else n
            plan = self.reg.plan(d, np.ones(total), grad)
        y = x if plan["on_sphere"] else z
        a, target, weights = dev.tensors(plan, ["directions", "target", "weights"], z.device, z.dtype)
        chunk = dev.sliced_chunk(n, len(plan["knots"]), self.opts.block_rows)
        d_sums, s_sums = dev.sliced_sums(y, a, plan, target, chunk)
        total_n = n
        if self.opts.distributed:
            rank, world, start, total_n = self._exchange(z)
            both = _dist.all_reduce_sum(torch.cat([d_sums, s_sums]))
            d_sums, s_sums = both[: a.shape[0]], both[a.shape[0]:]
        loss = dev.sliced_loss(d_sums.double(), s_sums.double(), total_n, weights.double())
        saved = (x, r, y, a, plan, d_sums, s_sums, total_n, chunk) if grad else None
        return loss, saved, plan

    def _device_forward_global(self, z: torch.Tensor, grad: bool, plan):
        """The global loss of one view over the process group, and this rank's part
        of the backward pass (its rows against every rank's)."""
        kind = self.opts.kind
        x, r, host = self._checked_rows(z)
        rank, world, start, n = self._exchange(z)
        if kind == "sliced":
            return self._sliced_forward(z, x, r, grad, plan)
        d = z.shape[1]
        z_all = _dist.all_gather_rows(z, self.sizes)
        x_all, r_all = dev.unit_rows(z_all)
        norms = r_all.reshape(-1).double().cpu().numpy() if kind == "radial" else np.ones(n)
        plan = self.reg.plan(d, norms, grad)
        block = dev.block_rows(n, self.opts.block_rows)
        if kind == "zonal":
            f = self._table(plan["table"], plan["offset"], z)
            share = dev.zonal_sum(x_all, x, f, block) * (plan["factor"] / (n * n))
            loss = _dist.all_reduce_sum(share.reshape(1))[0]
            return loss, (x_all, x, r, start, n, plan, f), plan
        if kind == "log_density":
            f = self._table(plan["table"], plan["offset"], z)
            ln_mine = dev.log_densities(x_all, x, start, f, block)
            ln_s = _dist.all_gather_rows(ln_mine, self.sizes)
            loss = (ln_s.double() + plan["shift"]).sum() * (plan["factor"] / n)
            return loss, (x_all, x, r, start, n, plan, f, ln_s), plan
        h = self._table(plan["table"], plan["offset"], z)
        sq = r_all.reshape(-1) ** 2
        delta, radial = dev.tensors(plan, ["delta", "radial"], z.device, z.dtype)
        total, row_w, wz = dev.radial_sums(z_all, sq, delta, z, start, h, block, grad)
        loss = _dist.all_reduce_sum((total / n).reshape(1))[0]
        mine = radial[start : start + z.shape[0]] if grad else None
        return loss, ((z, row_w, wz, mine, n) if grad else None), plan

    # -- backward ------------------------------------------------------------

    def backward(self, g: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        out = torch.empty_like(like)
        with exact_arithmetic(like.device):
            for i, saved in enumerate(self.saved):
                scale = float(g[i]) * self.opts.grad_scale
                if not self.opts.device_path:
                    out[i] = saved.to(device=like.device, dtype=like.dtype) * scale
                else:
                    out[i] = self._device_backward(saved, scale)
        return out

    def _device_backward(self, saved, scale: float) -> torch.Tensor:
        kind, block_opt = self.opts.kind, self.opts.block_rows
        if kind == "sliced":
            x, r, y, a, plan, d_sums, s_sums, n, chunk = saved
            gy = dev.sliced_grad(y, a, plan, d_sums, s_sums, n, chunk)
            return dev.chain(x, r, gy, scale) if plan["on_sphere"] else gy * scale
        if kind == "radial":
            z, row_w, wz, radial, n = saved
            c = 4.0 / n
            coef = row_w.reshape(-1, 1) * c + radial.reshape(-1, 1)
            return (z * coef - wz * c) * scale
        if self.opts.distributed:
            x_all, x, r, start, n = saved[:5]
            plan, f = saved[5], saved[6]
        else:
            x, r, plan, f = saved[:4]
            x_all, start, n = x, 0, x.shape[0]
        block = dev.block_rows(n, block_opt)
        if kind == "zonal":
            g = dev.zonal_grad(x_all, x, start, f, block)
            return dev.chain(x, r, g, scale * plan["factor"] * 2.0 / (n * n))
        ln_s = saved[-1]
        g = dev.log_density_grad(x_all, x, start, ln_s, f, block)
        return dev.chain(x, r, g, scale * plan["factor"] / n)


class Loss(torch.autograd.Function):
    """The losses of the views ``z`` (``V x N x D``), differentiable once with the
    exact gradient; ``call`` holds the objective and keeps what the backward needs."""

    @staticmethod
    def forward(ctx: Any, z: torch.Tensor, call: Call) -> torch.Tensor:
        ctx.call = call
        ctx.like = torch.empty(0, dtype=z.dtype, device=z.device)
        ctx.shape = z.shape
        return call.forward(z.detach(), ctx.needs_input_grad[0])

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, g: torch.Tensor):
        like = torch.empty(ctx.shape, dtype=ctx.like.dtype, device=ctx.like.device)
        return ctx.call.backward(g.detach().cpu(), like), None
