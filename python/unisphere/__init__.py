"""unisphere: uniformity regularizers on the unit hypersphere, with exact gradients.

The objectives of the Rust crate ``unisphere`` (built with PyO3). Each takes an
``N x d`` numpy array of float32 or float64 in any layout, normalises its rows onto
the sphere inside (``Sigreg`` and ``SigregIntegrated`` excepted: they test raw rows
against N(0, I)) and returns

- ``loss(z)``: a Python float;
- ``loss_and_grad(z)``: the float and the exact gradient with respect to ``z``,
  an array of ``z``'s shape and dtype.

Errors of the crate (NaN entries, zero rows, too few points, bad parameters)
raise ``ValueError`` with the crate's message. The GIL is released while the crate
computes. Objects pickle (they are rebuilt from their constructor arguments; a
sliced objective keeps its step, so a copy draws what the original would draw next).

>>> import numpy as np, unisphere
>>> d = 64
>>> reg = unisphere.Mmd.heat(d)  # the paper's t = 5/d; or Mmd(Kernel.heat(d, t))
>>> z = np.random.default_rng(0).standard_normal((256, d)).astype(np.float32)
>>> loss, grad = reg.loss_and_grad(z)
>>> grad.dtype, grad.shape
(dtype('float32'), (256, 64))

``unisphere.uniformity.test(name, z, **params)`` runs a test of uniformity with a
p-value; ``unisphere.torch`` has the objectives as torch modules with the papers'
defaults (``MMD``, ``KSD``, ``KDEKL``, ``SIGReg``, ``SUSReg`` and their
``Integrated`` twins).
"""
from ._unisphere import (
    Kernel,
    KdeKl,
    Ksd,
    Mmd,
    Sigreg,
    SigregIntegrated,
    Susreg,
    SusregIntegrated,
)
from . import uniformity

__all__ = [
    "Kernel",
    "KdeKl",
    "Ksd",
    "Mmd",
    "Sigreg",
    "SigregIntegrated",
    "Susreg",
    "SusregIntegrated",
    "uniformity",
]
