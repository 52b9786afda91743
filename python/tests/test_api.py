"""The numpy API: layouts, dtypes, errors, pickling, GIL release, uniformity tests."""
import pickle
import threading
import time

import numpy as np
import pytest

import unisphere

D = 16


def rows(n=64, d=D, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal((n, d)).astype(dtype)


def all_objectives(d=D):
    k = unisphere.Kernel.heat(d, 5.0 / d)
    return [
        unisphere.Mmd(k),
        unisphere.Ksd(k, "raw"),
        unisphere.KdeKl(unisphere.Kernel.heat(d, 2.0 / d), "raw"),
        unisphere.Mmd(unisphere.Kernel.bandlimited(d, 3)),
        unisphere.Mmd(unisphere.Kernel.from_weights(d, [1.0, 0.5, 0.25])),
        unisphere.Mmd(unisphere.Kernel.susreg_induced(d)),
        unisphere.Sigreg(64, 1),
        unisphere.Susreg(64, 1),
        unisphere.SigregIntegrated(),
        unisphere.SusregIntegrated(),
    ]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layouts_give_the_same_result(dtype):
    z = rows(dtype=dtype)
    big = rows(n=128, d=2 * D, dtype=dtype)
    views = {
        "fortran": np.asfortranarray(z),
        "strided": big[::2, ::2],
        "reversed": z[::-1, ::-1].copy()[::-1, ::-1],
        "transposed": np.ascontiguousarray(z.T).T,
    }
    for reg in all_objectives()[:6] + all_objectives()[8:]:
        for name, v in views.items():
            ref = np.ascontiguousarray(v)
            l0, g0 = reg.loss_and_grad(ref)
            l1, g1 = reg.loss_and_grad(v)
            assert l1 == l0, (reg, name)
            assert g1.dtype == dtype and g1.shape == v.shape
            np.testing.assert_array_equal(g1, g0)


def test_float32_and_float64_agree():
    z = rows()
    for reg in all_objectives()[:6] + all_objectives()[8:]:
        l64, g64 = reg.loss_and_grad(z)
        l32, g32 = reg.loss_and_grad(z.astype(np.float32))
        assert isinstance(l32, float) and g32.dtype == np.float32
        assert l32 == pytest.approx(l64, rel=1e-4, abs=1e-7), reg
        assert np.abs(g32 - g64).max() <= 1e-4 * np.abs(g64).max(), reg


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.full((8, D), np.nan), "is NaN or infinite"),
        (np.where(np.eye(8, D) > 0, np.inf, 1.0), "is NaN or infinite"),
        (np.ones(D), "2-D array"),
        (np.ones((2, 8, D)), "2-D array"),
        (np.ones((8, D), dtype=np.int64), "dtype float32 or float64"),
        (np.ones((8, D), dtype=np.float16), "dtype float32 or float64"),
        (np.ones((8, D), dtype=np.complex128), "dtype float32 or float64"),
        ([[1.0] * D] * 8, "numpy.ndarray"),
        (np.ones((0, D)), "^bad input shape: expected a non-empty N x d matrix, found 0 x 16"),
        (np.ones((8, 0)), "^bad input shape: expected a non-empty N x d matrix, found 8 x 0"),
        (np.ones((1, D)), "^1 points given, but this objective needs at least 2"),
    ],
)
def test_bad_inputs_raise_value_error(bad, message):
    for reg in all_objectives():
        with pytest.raises(ValueError, match=message):
            reg.loss(bad)
        with pytest.raises(ValueError, match=message):
            reg.loss_and_grad(bad)


def test_zero_rows_raise_where_rows_are_normalised():
    for reg in all_objectives():
        if "SIGReg" in reg.name():  # SIGReg works on raw rows: a zero row is a point
            assert np.isfinite(reg.loss(np.zeros((8, D))))
            continue
        with pytest.raises(ValueError, match="^row 0 is zero and has no direction"):
            reg.loss_and_grad(np.zeros((8, D)))


def test_wrong_dimension_and_bad_parameters_raise_the_crate_message():
    with pytest.raises(ValueError, match="^bad input shape"):
        unisphere.Mmd(unisphere.Kernel.heat(D, 0.3)).loss(rows(d=D + 1))
    for make in (
        lambda: unisphere.Kernel.heat(D, -1.0),
        lambda: unisphere.Kernel.heat(1, 0.1),
        lambda: unisphere.Kernel.from_weights(D, [1.0, -1.0]),
        lambda: unisphere.Sigreg(0, 1),
        lambda: unisphere.Mmd(unisphere.Kernel.heat(D, 0.3), "loud"),
    ):
        with pytest.raises(ValueError, match="^invalid parameter"):
            make()


def test_objects_pickle():
    z = rows()
    for reg in all_objectives() + [unisphere.Kernel.heat(D, 0.25)]:
        copy = pickle.loads(pickle.dumps(reg))
        assert type(copy) is type(reg) and repr(copy) == repr(reg)
        if isinstance(reg, unisphere.Kernel):
            assert copy.weights == reg.weights
            continue
        # copies on both sides: a sliced copy keeps the step it was pickled at
        fresh = pickle.loads(pickle.dumps(reg))
        assert copy.loss(z) == fresh.loss(z)
        assert copy.name() == reg.name()


def test_sliced_objectives_draw_fresh_directions_each_call():
    z = rows()
    reg = unisphere.Sigreg(32, 7)
    assert reg.loss(z) != reg.loss(z)
    assert unisphere.Sigreg(32, 7).loss(z) == unisphere.Sigreg(32, 7).loss(z)


def test_gil_is_released_during_the_computation():
    reg = unisphere.Mmd(unisphere.Kernel.heat(256, 5.0 / 256))
    z = rows(n=4096, d=256, dtype=np.float32)
    span = {}

    def work():
        span["start"] = time.perf_counter()
        reg.loss_and_grad(z)
        span["end"] = time.perf_counter()

    t = threading.Thread(target=work)
    ticks = []
    t.start()
    while t.is_alive():
        ticks.append(time.perf_counter())
    t.join()
    inside = [x for x in ticks if span["start"] < x < span["end"]]
    duration = span["end"] - span["start"]
    assert duration > 0.05
    # With the GIL held by the call this thread could only run in switch-interval
    # gaps at the call's edges; released, it runs throughout.
    assert inside and inside[-1] - inside[0] > 0.5 * duration


def test_uniformity_test():
    z = rows(n=200, d=3, seed=4)
    r = unisphere.uniformity.test("pcvm", z)
    assert r.test == "PCvM" and (r.n, r.d) == (200, 3) and r.method == "asymptotic"
    assert 0.0 <= r.p_value <= 1.0 and r.statistic > 0.0
    clustered = np.abs(z) + np.array([3.0, 0.0, 0.0])
    assert unisphere.uniformity.test("rayleigh", clustered).p_value < 1e-6
    mc = unisphere.uniformity.test("riesz", z, s=0.5, replicates=99, seed=3)
    assert mc.method == "monte_carlo" and mc.method_params == {"replicates": 99, "seed": 3}
    assert mc.statistic == unisphere.uniformity.test("riesz", z, s=0.5).statistic
    k = unisphere.Kernel.heat(3, 0.5)
    assert 0.0 <= unisphere.uniformity.test("kernel", z, kernel=k).p_value <= 1.0
    assert unisphere.uniformity.test("sobolev", z.astype(np.float32), weights=[1.0]).test
    for name, params, message in [
        ("nope", {}, "unknown test"),
        ("riesz", {}, "needs the parameter s"),
        ("pcvm", {"s": 1.0}, "has no parameter s"),
        ("pcvm", {"replicates": 0}, "^invalid parameter replicates"),
        ("poisson", {"rho": 2.0}, "^invalid parameter rho"),
    ]:
        with pytest.raises(ValueError, match=message):
            unisphere.uniformity.test(name, z, **params)
    with pytest.raises(ValueError, match="NaN"):
        unisphere.uniformity.test("pcvm", np.full((5, 3), np.nan))
