"""Tests of uniformity on the sphere with p-values (the statistics of R's ``sphunif``).

>>> import numpy as np, unisphere
>>> z = np.random.default_rng(1).standard_normal((200, 3))
>>> r = unisphere.uniformity.test("pcvm", z)
>>> r.method, 0.0 <= r.p_value <= 1.0
('asymptotic', True)
"""
from typing import Any, Dict, NamedTuple

from ._unisphere import _uniformity_test

__all__ = ["TestResult", "test"]


class TestResult(NamedTuple):
    """The outcome of a test of uniformity."""

    test: str
    """The test's name, e.g. ``"PCvM"`` or ``"Riesz s=0.5"``."""
    n: int
    """Number of points."""
    d: int
    """Ambient dimension (points on S^{d-1})."""
    statistic: float
    """The statistic, as ``sphunif`` defines it."""
    p_value: float
    """The p-value (small values reject uniformity)."""
    method: str
    """``"asymptotic"`` or ``"monte_carlo"``."""
    method_params: Dict[str, Any]
    """``{"degree", "terms"}`` (asymptotic) or ``{"replicates", "seed"}`` (Monte Carlo)."""


def test(name: str, z: Any, **params: Any) -> TestResult:
    """Runs the test of uniformity ``name`` on the rows of ``z`` (normalised inside).

    ``name`` is one of ``rayleigh``, ``bingham``, ``ajne``, ``gine_gn``, ``gine_fn``,
    ``bakshaev``, ``pcvm``, ``pad`` (no parameters), ``riesz`` (``s``), ``prt``
    (``t``), ``poisson`` (``rho``), ``softmax`` (``kappa``), ``sobolev``
    (``weights``: the squared Sobolev weights ``v_k^2``, k = 1, 2, ...) and ``kernel``
    (``kernel``: a ``unisphere.Kernel``; points must have its dimension).
    ``replicates=R`` (and ``seed=S``, default 0) switch to a Monte Carlo p-value
    from R uniform samples; the default is the asymptotic p-value.

    ``z`` is an ``N x d`` numpy array of float32 or float64. Bad input or
    parameters raise ``ValueError``.
    """
    return TestResult(*_uniformity_test(name, z, **params))
