"""unisphere.torch: the objectives as torch losses (values, gradients, gradcheck,
devices, errors, a short training run)."""
import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import unisphere  # noqa: E402
from unisphere.torch import regularizer  # noqa: E402

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def unit_rows(n, d, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, dtype=torch.float64, generator=g)
    return (x / x.norm(dim=1, keepdim=True)).to(dtype)


def deterministic(d):
    """Every deterministic objective (the sliced ones draw fresh directions per call,
    which gradcheck's repeated evaluations cannot allow)."""
    k = unisphere.Kernel.heat(d, 5.0 / d)
    return [
        unisphere.Mmd(k),
        unisphere.Ksd(k, "raw"),
        unisphere.KdeKl(unisphere.Kernel.heat(d, 2.0 / d), "raw"),
        unisphere.Mmd(unisphere.Kernel.bandlimited(d, 4), "raw"),
        unisphere.Mmd(unisphere.Kernel.susreg_induced(d), "raw"),
        unisphere.SigregIntegrated(),
        unisphere.SusregIntegrated(),
    ]


@pytest.mark.parametrize("reg", deterministic(5), ids=lambda r: r.name())
def test_gradcheck_float64(reg):
    z = (unit_rows(12, 5, seed=2) * 1.5).requires_grad_()
    assert torch.autograd.gradcheck(regularizer(reg), (z,), eps=1e-6, atol=1e-7, rtol=1e-5)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_value_and_gradient_are_the_crates(device, dtype):
    d = 24
    for reg in deterministic(d) + [unisphere.Sigreg(32, 5), unisphere.Susreg(32, 5)]:
        z = unit_rows(100, d, dtype, seed=3).to(device)
        # a strided (transposed) tensor goes through unchanged
        zt = z.t().contiguous().t().requires_grad_()
        twin = pickle.loads(pickle.dumps(reg))  # the same state (a sliced one's step too)
        loss = regularizer(reg)(zt)
        assert loss.dtype == dtype and loss.device.type == device and loss.dim() == 0
        (loss * 3.0).backward()
        want, grad = twin.loss_and_grad(z.cpu().numpy())
        assert loss.item() == np.asarray(want, dtype=grad.dtype).item()
        assert zt.grad.dtype == dtype and zt.grad.device.type == device
        assert torch.equal(zt.grad.cpu(), 3.0 * torch.from_numpy(grad))


def test_without_grad_only_the_loss_is_computed():
    reg = unisphere.Mmd(unisphere.Kernel.heat(8, 0.5))
    z = unit_rows(50, 8)
    with torch.no_grad():
        loss = regularizer(reg)(z)
    assert not loss.requires_grad and loss.item() == reg.loss(z.numpy())


@pytest.mark.parametrize(
    "bad, message",
    [
        (torch.full((8, 5), float("nan")), "is NaN or infinite"),
        (torch.ones(5), "2-D array"),
        (torch.ones(2, 8, 5), "2-D array"),
        (torch.ones(8, 5, dtype=torch.int64), "dtype float32 or float64"),
        (torch.ones(8, 5, dtype=torch.float16), "dtype float32 or float64"),
        (torch.ones(8, 5, dtype=torch.bfloat16), "dtype float32 or float64"),
        (torch.ones(0, 5), "non-empty N x d matrix"),
        (np.ones((8, 5)), "must be a torch.Tensor"),
    ],
)
def test_bad_tensors_raise_value_error(bad, message):
    m = regularizer(unisphere.Mmd(unisphere.Kernel.heat(5, 1.0)))
    with pytest.raises(ValueError, match=message):
        m(bad)
    if isinstance(bad, torch.Tensor) and bad.dtype.is_floating_point:
        with pytest.raises(ValueError, match=message):
            m(bad.clone().requires_grad_())


def test_module_pickles():
    m = regularizer(unisphere.Mmd(unisphere.Kernel.heat(8, 0.5)))
    z = unit_rows(30, 8)
    assert pickle.loads(pickle.dumps(m))(z).item() == m(z).item()


def train(reg, steps=100, seed=0):
    """A small MLP encoder trained on a collapsing objective (pull every embedding
    towards one direction) plus, optionally, a uniformity regularizer; returns the
    final unit embeddings."""
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(16, 64), torch.nn.ReLU(), torch.nn.Linear(64, 8))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    x = torch.randn(256, 16)
    pole = torch.nn.functional.normalize(torch.ones(8), dim=0)
    loss_fn = regularizer(reg) if reg is not None else None
    for _ in range(steps):
        z = net(x)
        u = torch.nn.functional.normalize(z, dim=1)
        loss = -(u @ pole).mean()
        if loss_fn is not None:
            loss = loss + 4.0 * loss_fn(z)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return torch.nn.functional.normalize(net(x), dim=1)


def mean_resultant_length(u):
    return u.mean(0).norm().item()


def test_training_loop_avoids_collapse():
    collapsed = train(None)
    assert mean_resultant_length(collapsed) > 0.95
    assert unisphere.uniformity.test("rayleigh", collapsed.numpy()).p_value < 1e-10
    for reg in (unisphere.Mmd(unisphere.Kernel.heat(8, 5.0 / 8)), unisphere.SusregIntegrated()):
        u = train(reg)
        r = mean_resultant_length(u)
        assert r < 0.5, (reg, r)
        # spread in every direction: no near-zero singular value of the embeddings
        s = torch.linalg.svdvals(u - u.mean(0))
        assert s.min() > 0.1 * s.max(), (reg, s)
