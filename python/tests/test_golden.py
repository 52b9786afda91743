"""Values and gradients against the crate's golden cases, with tests/golden.rs's
tolerances (value 1e-10 relative, gradient 1e-8 relative to its largest entry,
f32 MMD values 1e-4 relative)."""
import numpy as np
import pytest

import unisphere


def kernel_of(c):
    if c["kernel"] == "heat":
        return unisphere.Kernel.heat(c["d"], float(c["param"]))
    if c["kernel"] == "band":
        return unisphere.Kernel.bandlimited(c["d"], int(c["param"]))
    raise AssertionError("unknown kernel %s" % c["kernel"])


def scale_of(c):
    return "raw" if c["scale"] == "raw" else "paper"


OBJECTIVES = {
    "mmd": lambda c: unisphere.Mmd(kernel_of(c), scale_of(c)),
    "ksd": lambda c: unisphere.Ksd(kernel_of(c), scale_of(c)),
    "kl": lambda c: unisphere.KdeKl(kernel_of(c), scale_of(c)),
    "sigreg_twin": lambda c: unisphere.SigregIntegrated(),
    "susreg_twin": lambda c: unisphere.SusregIntegrated(),
}
# As many cases of each kind as tests/golden.rs checks.
EXPECTED = {"mmd": 5, "ksd": 1, "kl": 2, "sigreg_twin": 1, "susreg_twin": 1}


def matrix(rows):
    return np.array([[float(v) for v in r] for r in rows], dtype=np.float64)


def rel_diff(got, want):
    return np.abs(got - want).max() / np.abs(want).max()


def test_every_golden_kind_is_covered(golden_cases):
    counts = {}
    for c in golden_cases:
        if c["loss"] in OBJECTIVES:
            counts[c["loss"]] = counts.get(c["loss"], 0) + 1
    assert counts == EXPECTED


@pytest.mark.parametrize("kind", sorted(OBJECTIVES))
def test_golden_values_and_gradients(golden_cases, kind):
    seen = 0
    for c in (c for c in golden_cases if c["loss"] == kind):
        reg = OBJECTIVES[kind](c)
        z = matrix(c["z"])
        want = float(c["value"])
        v, g = reg.loss_and_grad(z)
        assert isinstance(v, float)
        assert v == pytest.approx(want, rel=1e-10, abs=0.0), c["name"]
        assert reg.loss(z) == v
        assert g.dtype == np.float64 and g.shape == z.shape
        if "grad" in c:
            e = rel_diff(g, matrix(c["grad"]))
            assert e <= 1e-8, "%s: gradient rel err %g" % (c["name"], e)
        if kind == "mmd":
            v32, g32 = reg.loss_and_grad(z.astype(np.float32))
            assert abs(v32 - want) <= 1e-4 * abs(want), c["name"]
            assert g32.dtype == np.float32 and g32.shape == z.shape
        seen += 1
    assert seen == EXPECTED[kind]
