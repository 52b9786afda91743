"""unisphere.torch's modules: the device path against the host path for every
objective, gradcheck in float64, views, dtypes, strides, state, errors and
torch.compile."""
import copy
import io

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from unisphere.torch import (  # noqa: E402
    KDEKL,
    KSD,
    MMD,
    SIGReg,
    SIGRegIntegrated,
    SUSReg,
    SUSRegIntegrated,
)


def rows(n, d, dtype=torch.float32, seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, d, dtype=torch.float64, generator=g) * scale + 0.1).to(dtype)


def modules(d, **kw):
    """Every objective with the papers' defaults (KDE-KL on the raw scale below d = 19)."""
    kl_scale = "paper" if d >= 19 else "raw"
    return [
        ("MMD", lambda: MMD(**kw)),
        ("MMD bandlimited", lambda: MMD("bandlimited", degree=3, scale="raw", **kw)),
        ("KSD", lambda: KSD(**kw)),
        ("KDEKL", lambda: KDEKL(scale=kl_scale, **kw)),
        ("SIGRegIntegrated", lambda: SIGRegIntegrated(**kw)),
        ("SUSRegIntegrated", lambda: SUSRegIntegrated(**kw)),
        ("SIGReg", lambda: SIGReg(num_vectors=64, seed=3, **kw)),
        ("SUSReg", lambda: SUSReg(num_vectors=64, seed=3, **kw)),
    ]


def loss_and_grad(module, z):
    z = z.detach().clone().requires_grad_()
    loss = module(z)
    loss.backward()
    return loss.detach(), z.grad


SHAPES = [(2, 3), (33, 17), (256, 256), (96, 1024), (77, 20)]


@pytest.mark.parametrize("n,d", SHAPES)
@pytest.mark.parametrize("name,make", modules(8), ids=lambda v: v if isinstance(v, str) else "")
def test_device_path_equals_host_path_float32(n, d, name, make):
    z = rows(n, d, seed=n + d)
    # block_rows=16: the last block is ragged for every N here but 96 and 256
    host, device = make(), make()
    device.compute, device.block_rows = "device", 16
    host.compute = "host"
    lh, gh = loss_and_grad(host, z)
    ld, gd = loss_and_grad(device, z)
    assert abs(ld.item() - lh.item()) <= 1e-5 * abs(lh.item()) + 1e-7, (name, ld, lh)
    largest = gh.abs().max().item()
    assert (gd - gh).abs().max().item() <= 1e-4 * largest, name


@pytest.mark.parametrize("name,make", modules(5), ids=lambda v: v if isinstance(v, str) else "")
def test_gradcheck_float64_device_path(name, make):
    if name in ("SIGReg", "SUSReg"):
        pytest.skip("fresh directions per call: gradcheck's repeated calls need fixed ones")
    module = make()
    module.compute = "device"
    z = rows(12, 5, torch.float64, seed=2, scale=1.5).requires_grad_()
    assert torch.autograd.gradcheck(module, (z,), eps=1e-6, atol=1e-7, rtol=1e-5)


@pytest.mark.parametrize("compute", ["host", "device"])
def test_gradcheck_float64_sliced_with_fixed_directions(compute):
    a = torch.randn(7, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    for module in (SIGReg(directions=a, compute=compute), SUSReg(directions=a, compute=compute)):
        z = rows(12, 5, torch.float64, seed=2, scale=1.5).requires_grad_()
        assert torch.autograd.gradcheck(module, (z,), eps=1e-6, atol=1e-7, rtol=1e-5)


@pytest.mark.parametrize("compute", ["host", "device"])
def test_views_are_separate_batches_reduced(compute):
    z = rows(3 * 40, 12, seed=5).reshape(3, 40, 12)
    for name, make in modules(12, compute=compute):
        each = torch.stack([make()(z[v]) for v in range(3)]) if "SIG" not in name and "SUS" not in name else None
        none = make()
        none.reduction = "none"
        per_view = none(z)
        assert per_view.shape == (3,), name
        mean = make()(z)
        total = make()
        total.reduction = "sum"
        assert torch.allclose(mean, per_view.mean(), rtol=1e-6), name
        assert torch.allclose(total(z), per_view.sum(), rtol=1e-6), name
        if each is not None:
            assert torch.allclose(per_view, each, rtol=1e-6), name


def test_views_of_a_sliced_module_share_one_draw_and_one_step():
    z = rows(2 * 30, 6, torch.float64, seed=6)
    both = SIGReg(num_vectors=32, seed=9, reduction="none")
    losses = both(z.reshape(2, 30, 6))
    assert both.step == 1
    again = SIGReg(num_vectors=32, seed=9)
    assert torch.allclose(losses[1], again(z[30:]), rtol=1e-12)


@pytest.mark.parametrize("compute", ["host", "device"])
def test_half_precision_is_computed_in_float32(compute):
    z = rows(64, 24, seed=7)
    for name, make in modules(24, compute=compute):
        if "SIGReg" == name or "SUSReg" == name:
            continue
        l32, g32 = loss_and_grad(make(), z)
        zb = z.to(torch.bfloat16).requires_grad_()
        lb = make()(zb)
        lb.backward()
        assert zb.grad.dtype == torch.bfloat16, name
        assert lb.dtype == torch.float32, name
        # the bfloat16 rows themselves, in float32
        l32b, _ = loss_and_grad(make(), zb.detach().float())
        assert abs(lb.item() - l32b.item()) <= 1e-5 * abs(l32b.item()), name


def test_autocast_and_noncontiguous_input():
    z = rows(50, 16, seed=8)
    zt = z.t().contiguous().t()  # the same values, strided
    for name, make in modules(16, compute="device"):
        a = make()(z)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            b = make()(zt)
        # float32 rounding of O(1) terms (a bfloat16 Gram matrix would be off by 1e-3)
        assert abs(a.item() - b.item()) <= 1e-6 * max(abs(a.item()), 1.0), name


def test_state_dict_round_trip_gives_the_same_next_directions():
    z = rows(40, 8, torch.float64, seed=1)
    a = SUSReg(num_vectors=16, seed=5)
    for _ in range(3):
        a(z)
    state = copy.deepcopy(a.state_dict())
    b = SUSReg(num_vectors=16, seed=0)
    b.load_state_dict(state)
    assert (b.step, b.seed) == (3, 5)
    assert a(z).item() == b(z).item()
    fixed = torch.randn(5, 8, dtype=torch.float64)
    c = SIGReg(directions=fixed)
    buf = io.BytesIO()
    torch.save(c.state_dict(), buf)
    d = SIGReg(directions=torch.randn(5, 8, dtype=torch.float64))  # replaced by the load
    d.load_state_dict(torch.load(io.BytesIO(buf.getvalue())))
    assert c(z).item() == d(z).item()


BAD = [
    (torch.full((8, 5), float("nan")), "NaN or infinite"),
    (torch.ones(8, 5).index_fill_(0, torch.tensor([3]), 0.0), "row 3 is zero"),
    (torch.ones(1, 5), "needs at least 2"),
    (torch.ones(8, 1), "d >= 2"),
    (torch.ones(8, 5, dtype=torch.int64), "floating dtype"),
    (torch.ones(5), "shape (..., N, D)"),
]


@pytest.mark.parametrize("compute", ["host", "device"])
@pytest.mark.parametrize("bad,message", BAD)
def test_bad_input_is_a_value_error_and_changes_nothing(compute, bad, message):
    for name, make in modules(5, compute=compute):
        if name in ("SIGReg", "SIGRegIntegrated") and "zero" in message:
            continue  # the raw rows: a zero row is a valid point
        module = make()
        with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
            module(bad)
        if hasattr(module, "step"):
            assert module.step == 0, name


def test_a_width_other_than_the_kernels_is_an_error():
    m = MMD()
    m(rows(10, 6))
    with pytest.raises(ValueError, match="6 columns"):
        m(rows(10, 7))


def test_torch_compile_of_a_model_with_a_regularizer():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(10, 32), torch.nn.ReLU(), torch.nn.Linear(32, 16))
    reg = MMD()
    x = torch.randn(64, 10)

    def step(m):
        m.zero_grad()
        loss = reg(m(x)) + m(x).square().mean()
        loss.backward()
        return loss.detach(), [p.grad.clone() for p in m.parameters()]

    eager = step(model)
    compiled = torch.compile(model)
    got = step(compiled)
    assert torch.allclose(eager[0], got[0], rtol=1e-6)
    for a, b in zip(eager[1], got[1]):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-7)


def test_defaults_are_the_papers():
    d = 32
    z = rows(50, d, torch.float64, seed=3)
    import unisphere

    assert MMD()(z).item() == pytest.approx(unisphere.Mmd.heat(d).loss(z.numpy()), rel=1e-12)
    assert KDEKL()(z).item() == pytest.approx(unisphere.KdeKl.heat(d).loss(z.numpy()), rel=1e-12)
    assert SIGReg().num_vectors == 1024  # lightly's default
    collapsed = torch.ones(20, d, dtype=torch.float64)
    for module in (MMD(), KSD(), KDEKL()):
        assert module(collapsed).item() == pytest.approx(1.0, abs=1e-10)
