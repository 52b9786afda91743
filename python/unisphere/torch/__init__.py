"""The objectives as PyTorch modules, with the papers' defaults.

>>> import torch
>>> from unisphere.torch import MMD, SIGReg, SIGRegIntegrated
>>> z = torch.randn(2, 128, 32, requires_grad=True)  # 2 views of 128 embeddings
>>> loss = MMD()(z) + SIGRegIntegrated()(z)          # heat kernel at t = 5/d, d from z
>>> loss.backward()
>>> z.grad.shape
torch.Size([2, 128, 32])

Every module takes ``(..., N, D)`` input (leading dimensions are views, each its
own batch of ``N`` rows) of any float dtype on any device, and returns the loss
reduced over the views (``reduction="mean" | "sum" | "none"``) times ``weight``.
The dimension ``D`` is read on the first call. The gradient is the crate's exact,
analytic gradient.

Where it computes (``compute=``):

- ``"auto"`` (default): the device path for tensors off the CPU, the host path for
  CPU tensors;
- ``"host"``: the Rust crate through numpy (the reference; a CUDA tensor is copied
  to the host and its gradient back);
- ``"device"``: torch operations where the tensor lives (CPU, CUDA, MPS), from the
  objective's plan: the crate's own table of the exact kernel, looked up by an
  arithmetic interval index and Horner's rule, the Gram matrix in blocks of
  ``block_rows`` rows (by default ``block_rows * N <= 2^24``), never ``N x N``; the
  forward keeps ``O(N)`` numbers and the backward recomputes each block, so autograd
  holds no ``O(N^2)`` graph. Its input check reads back one reduction;
  ``check_input=False`` skips it (SIGReg's twin still reads back its ``N`` norms).

float32 and float64 input is computed in its own precision; float16 and bfloat16
in float32, the gradient returned in the input's dtype; autocast and TF32 are off
inside the op.

Under DDP, ``gather_distributed=True`` computes the loss of the global batch (ranks
may hold different numbers of rows): the rows are all-gathered in the forward (KDE-KL
also gathers one log-density per row; SIGReg and SUSReg all-reduce their
characteristic-function sums instead of gathering rows), and each rank gets the
exact gradient of the global loss with respect to its own rows, with no collective
in the backward. As DDP averages gradients over ranks, that gradient is multiplied by
the world size (``grad_averaged=True``, the default); frameworks that sum gradients
take ``grad_averaged=False``. Every rank draws the same directions.

``torch.compile``: the modules run eagerly inside a compiled model (the forward is
excluded from tracing: one graph break at each module call), with the same loss and
gradients.
"""
from typing import Any, Optional

import numpy as np
import torch
from torch import nn

from .. import _unisphere as _u
from . import _dist
from ._call import Call, Loss, Options
from ._legacy import Regularizer, regularizer

__all__ = [
    "MMD",
    "KSD",
    "KDEKL",
    "SIGReg",
    "SUSReg",
    "SIGRegIntegrated",
    "SUSRegIntegrated",
    "Regularizer",
    "regularizer",
]

_REDUCTIONS = ("mean", "sum", "none")
_COMPUTE = ("auto", "host", "device")


class _Module(nn.Module):
    """What every regularizer module shares: the options, the lazily built crate
    objective, the forward over views."""

    _kind = ""  # the plan's kind

    def __init__(
        self,
        *,
        weight: float = 1.0,
        reduction: str = "mean",
        compute: str = "auto",
        block_rows: Optional[int] = None,
        check_input: bool = True,
        gather_distributed: bool = False,
        grad_averaged: bool = True,
    ) -> None:
        super().__init__()
        if reduction not in _REDUCTIONS:
            raise ValueError(f"reduction must be one of {_REDUCTIONS}, found {reduction!r}")
        if compute not in _COMPUTE:
            raise ValueError(f"compute must be one of {_COMPUTE}, found {compute!r}")
        if block_rows is not None and int(block_rows) < 1:
            raise ValueError(f"block_rows must be at least 1, found {block_rows}")
        if gather_distributed and not torch.distributed.is_available():
            raise ValueError("gather_distributed=True needs torch.distributed")
        self.weight = float(weight)
        self.reduction = reduction
        self.compute = compute
        self.block_rows = block_rows
        self.check_input = bool(check_input)
        self.gather_distributed = bool(gather_distributed)
        self.grad_averaged = bool(grad_averaged)
        self._reg: Any = None
        self._dim: Optional[int] = None
        self._tables: dict = {}

    def _make(self, d: int) -> Any:
        """The crate objective for rows of width ``d``."""
        raise NotImplementedError

    def objective(self, d: int) -> Any:
        """The crate objective (built on the first call, from ``d``)."""
        if self._reg is None:
            self._reg = self._make(d)
            self._dim = d
        return self._reg

    def extra_repr(self) -> str:
        return f"weight={self.weight}, reduction={self.reduction!r}, compute={self.compute!r}"

    @torch.compiler.disable
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if not isinstance(z, torch.Tensor):
            raise ValueError(f"z must be a torch.Tensor, found {type(z).__name__}")
        if not z.dtype.is_floating_point:
            raise ValueError(f"z must have a floating dtype, found {z.dtype}")
        if z.dim() < 2:
            raise ValueError(f"z must have shape (..., N, D), found {tuple(z.shape)}")
        *lead, n, d = z.shape
        compute_dtype = torch.float64 if z.dtype == torch.float64 else torch.float32
        zc = z.to(compute_dtype)  # differentiable: the gradient comes back in z's dtype
        views = zc.reshape(-1, n, d)
        if views.shape[0] == 0:
            raise ValueError(f"z has no views: shape {tuple(z.shape)}")
        reg = self.objective(d)
        distributed = self.gather_distributed and _dist.world()[1] > 1
        if distributed:
            _dist.check_same([float(d), float(views.shape[0]), float(compute_dtype == torch.float64)],
                             "the width, the number of views and the dtype")
        device_path = self.compute == "device" or (self.compute == "auto" and z.device.type != "cpu")
        opts = Options(
            kind=self._kind,
            device_path=device_path,
            block_rows=self.block_rows,
            check_input=self.check_input,
            distributed=distributed,
            grad_scale=float(_dist.world()[1]) if distributed and self.grad_averaged else 1.0,
            tables=self._tables,
        )
        losses = Loss.apply(views, Call(reg, opts)).reshape(lead) if lead else Loss.apply(views, Call(reg, opts))[0]
        if lead and self.reduction == "mean":
            losses = losses.mean()
        elif lead and self.reduction == "sum":
            losses = losses.sum()
        return losses * self.weight if self.weight != 1.0 else losses


def _kernel(name: str, d: int, t: Optional[float], degree: Optional[int], t_times_d: float) -> Any:
    if name == "heat":
        return _u.Kernel.heat(d, t if t is not None else t_times_d / d)
    if name == "bandlimited":
        if degree is None:
            raise ValueError('kernel="bandlimited" needs degree=L')
        return _u.Kernel.bandlimited(d, int(degree))
    if name == "susreg_induced":
        return _u.Kernel.susreg_induced(d)
    raise ValueError(f'kernel must be "heat", "bandlimited" or "susreg_induced", found {name!r}')


class _KernelModule(_Module):
    _objective: Any = None
    _t_times_d = 5.0

    def __init__(
        self,
        kernel: str = "heat",
        *,
        t: Optional[float] = None,
        degree: Optional[int] = None,
        scale: str = "paper",
        d: Optional[int] = None,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        if kernel not in ("heat", "bandlimited", "susreg_induced"):
            raise ValueError(f'kernel must be "heat", "bandlimited" or "susreg_induced", found {kernel!r}')
        if scale not in ("paper", "raw"):
            raise ValueError(f'scale must be "paper" or "raw", found {scale!r}')
        self.kernel, self.t, self.degree, self.scale = kernel, t, degree, scale
        if d is not None:
            self.objective(int(d))

    def _make(self, d: int) -> Any:
        k = _kernel(self.kernel, d, self.t, self.degree, self._t_times_d)
        return type(self)._objective(k, self.scale)

    def extra_repr(self) -> str:
        return f"kernel={self.kernel!r}, scale={self.scale!r}, " + super().extra_repr()


class MMD(_KernelModule):
    """Squared MMD to the uniform distribution on the sphere (rows normalised
    inside), ``MMD(kernel="heat", *, t=None, degree=None, scale="paper", d=None,
    weight=1.0, reduction="mean", compute="auto", block_rows=None, check_input=True,
    gather_distributed=False, grad_averaged=True)``: the heat kernel at the paper's
    ``t = 5/d`` by default; ``scale="paper"`` puts total collapse at 1."""

    _kind = "zonal"
    _objective = _u.Mmd


class KSD(_KernelModule):
    """Kernel Stein discrepancy to the uniform distribution (Killing fields), the
    heat kernel at ``t = 5/d`` by default; the options as ``MMD``."""

    _kind = "zonal"
    _objective = _u.Ksd


class KDEKL(_KernelModule):
    """Leave-one-out kernel-density estimate of the KL divergence to uniform, the
    heat kernel at the paper's ``t = 2/d`` by default (positive kernels only; the
    paper scale needs ``d >= 19``, ``scale="raw"`` below); the options as ``MMD``."""

    _kind = "log_density"
    _objective = _u.KdeKl
    _t_times_d = 2.0


class _SlicedModule(_Module):
    """SIGReg's and SUSReg's shared options and state: the step (and the seed and
    fixed directions) travel in ``state_dict``."""

    _kind = "sliced"
    _objective: Any = None

    def __init__(
        self,
        *,
        knots: int = 17,
        t_max: float = 3.0,
        num_vectors: int = 1024,
        seed: int = 0,
        directions: Optional[torch.Tensor] = None,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.knots, self.t_max, self.num_vectors = int(knots), float(t_max), int(num_vectors)
        self.seed = int(seed)
        self._step = 0
        if directions is not None:
            directions = torch.as_tensor(directions).detach().to(torch.float64)
            if directions.dim() != 2:
                raise ValueError(f"directions must be an M x D matrix, found {tuple(directions.shape)}")
        self.register_buffer("directions", directions)
        self._target_kwargs: dict = {}
        self.objective(2)  # checks the parameters now (the width is free)
        self._reg = None

    def _make(self, d: int) -> Any:
        fixed = None if self.directions is None else self.directions.cpu().numpy()
        return type(self)._objective(
            self.num_vectors, self.seed, self.t_max, self.knots, fixed, step=self._step,
            **self._target_kwargs,
        )

    @property
    def step(self) -> int:
        """The number of forwards that have drawn directions (the next draws with it)."""
        return self._reg.step if self._reg is not None else self._step

    @step.setter
    def step(self, value: int) -> None:
        self._step = int(value)
        if self._reg is not None:
            self._reg.step = int(value)

    def get_extra_state(self) -> Any:
        return {"step": self.step, "seed": self.seed}

    def set_extra_state(self, state: Any) -> None:
        self.seed = int(state["seed"])
        self._reg = None  # rebuilt with the seed
        self.step = int(state["step"])

    def extra_repr(self) -> str:
        return (
            f"num_vectors={self.num_vectors}, knots={self.knots}, t_max={self.t_max}, "
            f"seed={self.seed}, step={self.step}, " + super().extra_repr()
        )


class SIGReg(_SlicedModule):
    """SIGReg (LeJEPA) with lightly's keywords, so that moving from
    ``lightly.loss.SIGReg`` is one import line: ``SIGReg(*, knots=17, t_max=3.0,
    num_vectors=1024, gather_distributed=False, seed=0, directions=None, ...)``. The
    raw rows (no normalisation) against ``N(0, I)``; ``num_vectors`` fresh directions
    per forward from the ``(seed, step)`` stream (the same on every rank), or fixed
    ``directions`` (an ``M x D`` tensor). Its deterministic twin is
    ``SIGRegIntegrated`` with the same keywords."""

    _objective = _u.Sigreg


class SUSReg(_SlicedModule):
    """SUSReg (SPHERE-JEPA): unit rows against the uniform marginal, with the options
    of ``SIGReg`` and ``exact_target`` (``None``: the paper's rule, ``N(0, 1)`` above
    ``d = 256``)."""

    _objective = _u.Susreg

    def __init__(self, *, exact_target: Optional[bool] = None, **kwargs: Any) -> None:
        self._exact = exact_target
        super().__init__(**kwargs)
        self._target_kwargs = {} if exact_target is None else {"exact_target": exact_target}


class _TwinModule(_Module):
    _objective: Any = None

    def __init__(
        self,
        *,
        knots: int = 17,
        t_max: float = 3.0,
        num_vectors: Optional[int] = None,
        seed: Optional[int] = None,
        exact_target: Optional[bool] = None,
        **options: Any,
    ) -> None:
        # num_vectors and seed are accepted (and unused) so that a sliced module's
        # line becomes its twin's by adding "Integrated".
        super().__init__(**options)
        self.knots, self.t_max, self.exact_target = int(knots), float(t_max), exact_target
        self.objective(2)
        self._reg = None

    def _make(self, d: int) -> Any:
        return type(self)._objective(self.t_max, self.knots, self.exact_target)


class SIGRegIntegrated(_TwinModule):
    """SIGReg's exact expectation over random directions: deterministic, the same
    keywords as ``SIGReg`` (``num_vectors`` and ``seed`` accepted and unused)."""

    _kind = "radial"
    _objective = _u.SigregIntegrated

    def __init__(self, **kwargs: Any) -> None:
        if kwargs.get("exact_target") is not None:
            raise ValueError("exact_target is SUSReg's: SIGReg's target is N(0, 1)")
        super().__init__(**kwargs)


class SUSRegIntegrated(_TwinModule):
    """SUSReg's exact expectation over random directions: deterministic, the same
    keywords as ``SUSReg``."""

    _kind = "zonal"
    _objective = _u.SusregIntegrated
