"""A crate objective as a PyTorch loss: ``regularizer(reg)`` is a ``torch.nn.Module``
(the first API of the package, kept; ``unisphere.torch.MMD`` and its siblings are
the modules with the papers' defaults, views, devices and DDP).

>>> import torch, unisphere
>>> from unisphere.torch import regularizer
>>> loss_fn = regularizer(unisphere.Mmd(unisphere.Kernel.heat(32, 5.0 / 32)))
>>> z = torch.randn(128, 32, requires_grad=True)
>>> loss = loss_fn(z)
>>> loss.backward()
>>> z.grad.shape
torch.Size([128, 32])

The forward computes on the CPU (the Rust crate) from a tensor of any device and
of dtype float32 or float64; the loss comes back as a 0-d tensor of that dtype and
device, and the backward returns the crate's exact gradient on that device.
"""
from typing import Any, Tuple

import torch
from torch.autograd.function import once_differentiable

__all__ = ["Regularizer", "regularizer"]

# Why torch.autograd.Function and not torch.library.custom_op: custom_op is the
# recommendation for *functional* ops that torch.compile / torch.export must see
# through (they need a FakeTensor kernel and must not carry Python state). Our op
# carries an opaque Rust object (the kernel tables, and for Sigreg/Susreg a
# direction stream that advances on every call, so it is not even pure), which a
# custom_op signature cannot take without a global registry of objects by id. An
# autograd.Function holds the object directly, computes loss and gradient in one
# call, and keeps the gradient for the backward; torch.compile is told to run it
# eagerly (torch.compiler.disable), which is what it would do anyway.


class _Loss(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, z: torch.Tensor, reg: Any) -> torch.Tensor:
        # A view of z's memory when z is on the CPU; a host copy otherwise. numpy
        # receives any strides: the crate reads the layout as it is.
        x = z.detach().cpu().numpy()
        if ctx.needs_input_grad[0]:
            loss, ctx.grad = reg.loss_and_grad(x)
            ctx.device = z.device
        else:
            loss = reg.loss(x)
        return torch.tensor(loss, dtype=z.dtype, device=z.device)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, g: torch.Tensor) -> Tuple[torch.Tensor, None]:
        if ctx.device.type == "cpu":
            # Scaled by numpy, on this thread: a torch op of this size would wake
            # torch's intra-op thread pool, which costs more than the product on a
            # busy machine (measured: 30 ms against 0.03 ms for 256 x 256 on 2 cores).
            return torch.from_numpy(ctx.grad * g.item()), None
        return g * torch.from_numpy(ctx.grad).to(ctx.device), None


class Regularizer(torch.nn.Module):
    """A unisphere objective as a loss module: ``forward(z)`` is its loss on the
    rows of the 2-D tensor ``z`` (float32 or float64, any device), differentiable
    once with the exact gradient. Pickles with its objective."""

    def __init__(self, reg: Any) -> None:
        super().__init__()
        if not (hasattr(reg, "loss") and hasattr(reg, "loss_and_grad")):
            raise TypeError("regularizer() takes a unisphere objective (e.g. unisphere.Mmd)")
        self.reg = reg

    @torch.compiler.disable
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if not isinstance(z, torch.Tensor):
            raise ValueError("z must be a torch.Tensor, found %s" % type(z).__name__)
        if z.dtype not in (torch.float32, torch.float64):
            raise ValueError("z must have dtype float32 or float64, found %s" % z.dtype)
        return _Loss.apply(z, self.reg)

    def extra_repr(self) -> str:
        return repr(self.reg)


def regularizer(reg: Any) -> Regularizer:
    """``reg`` (``unisphere.Mmd``, ``Ksd``, ``KdeKl``, ``Sigreg``, ``Susreg``,
    ``SigregIntegrated``, ``SusregIntegrated``) as a ``torch.nn.Module``."""
    return Regularizer(reg)
