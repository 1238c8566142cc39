"""ms_acmix.models.exportable: each formulation is the exact op it replaces (bit-exact, or erf
within float32 rounding), in PYNATIVE and GRAPH mode."""
import mindspore as ms
import numpy as np
import pytest
import torch
from mindspore import Tensor, nn, ops
from scipy.special import erf as erf64
from scipy.special import erfc

from ms_acmix.models import exportable

ERF_MAX_ULP = 0.6  # rounding to nearest is 0.5 ulp; the rational adds 3.2e-9 relative


def _float32_sample() -> np.ndarray:
    """Dense over [-6, 6], log-spaced over every normal magnitude, and random normals."""
    tiny = np.finfo(np.float32).tiny
    mags = np.geomspace(tiny, 10.0, 20001).astype(np.float32)
    return np.concatenate([np.linspace(-6, 6, 240001, dtype=np.float32), mags, -mags,
                           np.random.default_rng(0).standard_normal(100000).astype(np.float32),
                           np.float32([0.0, 4.0, -4.0, np.nextafter(4.0, 5.0), 30.0, -1e30])])


class _Apply(nn.Cell):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def construct(self, x):
        return self.fn(x)


@pytest.fixture(params=["pynative", "graph"])
def mode(request):
    previous = ms.get_context("mode")
    ms.set_context(mode=ms.GRAPH_MODE if request.param == "graph" else ms.PYNATIVE_MODE)
    yield request.param
    ms.set_context(mode=previous)


def test_erf_is_within_float32_rounding(mode):
    x = _float32_sample()
    want = erf64(x.astype(np.float64))
    got = _Apply(exportable.erf)(Tensor(x)).asnumpy()
    assert got.dtype == np.float32
    ulp = np.spacing(np.abs(want).astype(np.float32)).astype(np.float64)
    worst = np.abs(got.astype(np.float64) - want) / ulp
    assert worst.max() <= ERF_MAX_ULP, (x[worst.argmax()], worst.max())
    assert np.array_equal(np.abs(got[np.abs(x) > exportable.ERF_CLAMP]), np.ones(
        int((np.abs(x) > exportable.ERF_CLAMP).sum()), np.float32))


def _ulp(values: np.ndarray) -> np.ndarray:
    """float32 ulp; at least the smallest normal's (MindSpore's CPU kernels flush subnormals)."""
    tiny = np.finfo(np.float32).tiny
    return np.spacing(np.maximum(np.abs(values), tiny).astype(np.float32)).astype(np.float64)


def test_gelu_matches_float64_and_torch(mode):
    """Within 0.6 ulp of GELU where x >= 0 and of x elsewhere (x * Phi(x) cancels in 1 + erf:
    the absolute error stays ~|x| * 3e-9 where PyTorch's own float32 GELU is no better)."""
    x = _float32_sample()
    x64 = x.astype(np.float64)
    want = 0.5 * x64 * erfc(-x64 / np.sqrt(2.0))
    cell = exportable.GELU()
    cell.exportable_ops = True
    err = np.abs(cell(Tensor(x)).asnumpy().astype(np.float64) - want)
    err = np.where(np.abs(want) < np.finfo(np.float32).tiny, 0.0, err)  # subnormal: flushed
    assert (err[x >= 0] <= ERF_MAX_ULP * _ulp(want[x >= 0])).all()
    assert (err <= ERF_MAX_ULP * _ulp(x)).all()
    torch_gelu = torch.nn.functional.gelu(torch.from_numpy(x)).double().numpy()
    assert err.max() <= np.abs(torch_gelu - want).max()


def test_gelu_cell_switches_between_kernels():
    x = Tensor(np.linspace(-3, 3, 7, dtype=np.float32))
    cell = exportable.GELU()
    native = cell(x).asnumpy()
    np.testing.assert_array_equal(native, ops.gelu(x, approximate="none").asnumpy())
    exportable.use_exportable_ops(cell)
    assert cell.exportable_ops
    np.testing.assert_array_equal(cell(x).asnumpy(), exportable.gelu(x).asnumpy())


@pytest.mark.parametrize("shape,pad", [((2, 3, 9, 11), 3), ((1, 1, 4, 5), 3), ((2, 2, 7, 7), 1)])
def test_reflect_pad_is_bit_exact(mode, shape, pad):
    x = Tensor(np.random.default_rng(1).standard_normal(shape).astype(np.float32))
    got = exportable.reflect_pad(x, pad).asnumpy()
    want = torch.nn.functional.pad(torch.from_numpy(x.asnumpy()), (pad,) * 4, mode="reflect")
    np.testing.assert_array_equal(got, want.numpy())


@pytest.mark.parametrize("k,dilation,stride",
                         [(3, 1, 1), (7, 1, 2), (3, 2, 1), (5, 2, 3), (1, 1, 2)])
def test_unfold_is_bit_exact(mode, k, dilation, stride):
    x = np.random.default_rng(2).standard_normal((2, 3, 13, 12)).astype(np.float32)
    got = exportable.unfold(Tensor(x), k, dilation, stride).asnumpy()
    want = torch.nn.functional.unfold(torch.from_numpy(x), k, dilation=dilation, stride=stride)
    np.testing.assert_array_equal(got.reshape(want.shape), want.numpy())


@pytest.mark.parametrize("shape", [(2, 4, 15, 16), (1, 2, 2, 3), (1, 1, 1, 1)])
def test_edge_padded_max_pool_is_bit_exact(mode, shape):
    x = np.random.default_rng(3).standard_normal(shape).astype(np.float32) - 5.0
    pool = exportable.MaxPool2d(3, 2, 1)
    native = pool(Tensor(x)).asnumpy()
    exportable.use_exportable_ops(pool)
    want = torch.nn.functional.max_pool2d(torch.from_numpy(x), 3, 2, 1).numpy()
    np.testing.assert_array_equal(pool(Tensor(x)).asnumpy(), want)
    np.testing.assert_array_equal(native, want)


def test_max_pool_refuses_padding_beyond_half_the_kernel():
    with pytest.raises(ValueError, match=r"padding=2 .*kernel_size=3"):
        exportable.MaxPool2d(3, 2, 2)


def test_use_exportable_ops_reaches_every_flagged_cell():
    import ms_acmix
    model = ms_acmix.create_model("acmix_resnet26", base_planes=4, layers=(1, 1, 1, 1),
                                  num_classes=2, k_att=3, head=2)
    flagged = [c for _, c in model.cells_and_names() if hasattr(c, "exportable_ops")]
    assert len(flagged) >= 5  # the stem's max pool and one ACmix per block
    exportable.use_exportable_ops(model)
    assert all(c.exportable_ops for c in flagged)
    exportable.use_exportable_ops(model, False)
    assert not any(c.exportable_ops for c in flagged)
