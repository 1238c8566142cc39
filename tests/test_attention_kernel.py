"""The local attention's two paths (torch_ref/models/local_attention.py): the compiled CPU kernel
and the PyTorch path, against each other and against an independent reference built on
``F.unfold`` (dilated, strided windows of the padded maps), forward and backward, on drawn shapes
with stride, dilation, odd sizes and k_att 1/3/5/7; and the fallback when the kernel is off,
absent or unloadable. The kernel must be built in CI (``CI=true``); elsewhere its tests skip
when set-up could not compile it."""
import contextlib
import functools
import importlib.machinery
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import torch_ref
from acmix_common.tolerance import compare
from parity.error_model import NOISE_SAMPLES, UNIT_ROUNDOFF, compare_to_reference, nudge
from torch_ref.models import attention_kernel, local_attention as la

KERNEL = pytest.mark.skipif(
    not attention_kernel.available() and os.environ.get("CI") != "true",
    reason=f"the attention kernel is not in use here: {attention_kernel.why_not()}")


def _draw(seed):
    """(n, c, h, w, k_att, dilation, stride): seeds 0-3 pin the required cases, the rest draw."""
    fixed = [(2, 3, 9, 7, 7, 1, 2), (1, 4, 10, 13, 5, 2, 1), (2, 2, 5, 6, 1, 1, 2),
             (1, 5, 8, 11, 3, 2, 3)]
    if seed < len(fixed):
        return fixed[seed]
    rng = np.random.default_rng(seed)
    k_att, dilation, stride = int(rng.choice([1, 3, 5, 7])), int(rng.integers(1, 3)), \
        int(rng.integers(1, 4))
    pad = (dilation * (k_att - 1) + 1) // 2
    h, w = (int(rng.integers(pad + 1, pad + 20)) for _ in range(2))
    return int(rng.integers(1, 4)), int(rng.integers(1, 9)), h, w, k_att, dilation, stride


SEEDS = list(range(16))


def _inputs(config, dtype, seed):
    """q, k, v, centre, cotangent with O(1) logits."""
    n, c, h, w, k_att, dilation, stride = config
    h_out, w_out = -(-h // stride), -(-w // stride)
    g = torch.Generator().manual_seed(seed)

    def draw(*shape, scale=1.0):
        return (scale * torch.randn(*shape, generator=g, dtype=torch.float64)).to(dtype)

    return (draw(n, c, h_out, w_out, scale=c ** -0.5), draw(n, c, h, w), draw(n, c, h, w),
            draw(n, 1, h_out, w_out), draw(n, c, h_out, w_out))


def reference(q, k, v, centre, k_att, dilation, stride, logits_hook=None):
    """softmax over each window of q . k + centre, weighted sum of v; the official reflection
    pad (dilation (k_att - 1) + 1) // 2, windows from F.unfold."""
    n, c, h_out, w_out = q.shape
    pad = (dilation * (k_att - 1) + 1) // 2
    keys, values = (F.unfold(F.pad(t, (pad,) * 4, mode="reflect"), k_att, dilation=dilation,
                             stride=stride).view(n, c, k_att * k_att, h_out, w_out)
                    for t in (k, v))
    logits = (q.unsqueeze(2) * keys).sum(1) + centre
    if logits_hook is not None:
        logits.register_hook(logits_hook)
    att = torch.softmax(logits, dim=1)
    return (att.unsqueeze(1) * values).sum(2)


def _logit_gradient_scale(inputs, window) -> float:
    """The largest gradient of a logit, from the float64 reference."""
    grads = []
    leaves = [t.clone().requires_grad_(True) for t in inputs[:4]]
    out = reference(*leaves, *window, logits_hook=grads.append)
    (out * inputs[4]).sum().backward()
    return float(grads[0].abs().max())


def _run(path, inputs, window):
    """(output, grad q, grad k, grad v, grad centre) of sum(attention * cotangent), the
    attention being ``reference`` or ``local_attention`` on the named path."""
    leaves = [t.clone().requires_grad_(True) for t in inputs[:4]]
    if path == "reference":
        out = reference(*leaves, *window)
    else:
        with _path(path):
            assert la.backend(leaves[0]) == ("cpu-kernel" if path == "kernel" else "torch")
            out = la.local_attention(*leaves, *window)
    (out * inputs[4]).sum().backward()
    return [out.detach()] + [t.grad for t in leaves]


@contextlib.contextmanager
def _path(path):
    """The kernel (the default where built) or the PyTorch path (forced by the env var)."""
    with pytest.MonkeyPatch.context() as patch:
        if path == "torch":
            patch.setenv(attention_kernel.ENV, "0")
        yield


PATHS = ["kernel", "torch"]
NAMES = ["output", "grad q", "grad k", "grad v", "grad centre"]


def _assert_float64_close(actual, expected, inputs, window, what):
    """The float64 policy. The centre gradient is zero exactly (softmax ignores a constant
    logit): each result is the roundoff of summing the k_att^2 logit gradients (each at most G),
    at most (k_att^2 - 1) u sum|terms| <= k_att^4 u G, the terms' own rounding included."""
    kk = window[0] ** 2
    cancelled = kk * kk * UNIT_ROUNDOFF["float64"] * _logit_gradient_scale(inputs, window)
    for name, a, e in zip(NAMES, actual, expected):
        result = compare(a.numpy(), e.numpy(), "float64")
        slack = 2 * cancelled if name == "grad centre" else 0.0  # both sides' roundoff
        assert result.max_abs <= result.bound + slack, f"{what}, {name}: {result}"


@pytest.mark.parametrize("path", [pytest.param("kernel", marks=KERNEL), "torch"])
@pytest.mark.parametrize("seed", SEEDS)
def test_paths_against_the_unfold_reference_float64(path, seed):
    config = _draw(seed)
    inputs = _inputs(config, torch.float64, seed)
    window = config[4:]
    expected = _run("reference", inputs, window)
    _assert_float64_close(_run(path, inputs, window), expected, inputs, window,
                          f"{path} {config}")


@functools.lru_cache(maxsize=None)
def _float32_noise(seed):
    """(inputs, float64 reference, its float32 noise per result) for draw ``seed``: the noise as
    the parity harness measures it (parity/error_model.py), the largest distance to float64 over
    NOISE_SAMPLES float32 runs on inputs each moved by at most one ulp."""
    config = _draw(seed)
    inputs = _inputs(config, torch.float64, seed)
    window = config[4:]
    expected = _run("reference", inputs, window)
    rng = np.random.default_rng(seed)
    noise = [0.0] * len(NAMES)
    for _ in range(NOISE_SAMPLES):
        moved = [torch.from_numpy(nudge(t.float().numpy(), rng)) for t in inputs]
        for i, (a, e) in enumerate(zip(_run("reference", moved, window), expected)):
            noise[i] = max(noise[i], float((a.double() - e).abs().max()))
    return inputs, expected, noise


@pytest.mark.parametrize("path", [pytest.param("kernel", marks=KERNEL), "torch"])
@pytest.mark.parametrize("seed", SEEDS)
def test_paths_against_the_unfold_reference_float32(path, seed):
    """float32 results within the parity harness's bound of the float64 reference: the
    reference's float32 noise times NOISE_MULTIPLE plus CONTEXT_ULPS of the largest value."""
    config = _draw(seed)
    window = config[4:]
    inputs, expected, noise = _float32_noise(seed)
    context = max(float(t.abs().max()) for t in expected[1:])
    actual = _run(path, [t.float() for t in inputs], window)
    for i, name in enumerate(NAMES):
        result = compare_to_reference(actual[i].double().numpy(), expected[i].numpy(), noise[i],
                                      None if i == 0 else context,
                                      kind="forward" if i == 0 else "grad")
        assert result.ok, f"{path} {config}, {name}: {result}"


@KERNEL
@pytest.mark.parametrize("seed", SEEDS)
def test_kernel_against_torch_path_float64(seed):
    config = _draw(seed)
    inputs = _inputs(config, torch.float64, seed)
    window = config[4:]
    _assert_float64_close(_run("kernel", inputs, window), _run("torch", inputs, window),
                          inputs, window, f"kernel vs torch {config}")


@KERNEL
def test_kernel_is_deterministic_across_thread_counts():
    config = (3, 6, 17, 12, 7, 1, 1)
    inputs = _inputs(config, torch.float32, 5)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = _run("kernel", inputs, config[4:])
        torch.set_num_threads(3)
        three = _run("kernel", inputs, config[4:])
    finally:
        torch.set_num_threads(threads)
    for name, a, b in zip(NAMES, one, three):
        assert torch.equal(a, b), name


@KERNEL
def test_forward_alone_and_non_contiguous_queries():
    """The no-grad forward (no weights kept) equals the differentiated one; strided q views."""
    config = (2, 4, 11, 9, 5, 1, 2)
    q, k, v, centre, _ = _inputs(config, torch.float64, 3)
    wide = torch.zeros(q.shape[:3] + (2 * q.shape[3],), dtype=q.dtype)
    wide[..., ::2] = q
    with torch.no_grad():
        alone = la.local_attention(wide[..., ::2], k, v, centre, *config[4:])
    assert la.backend(q) == "cpu-kernel"
    with_grad = la.local_attention(q.requires_grad_(True), k, v, centre, *config[4:])
    assert torch.equal(alone, with_grad.detach())
    expected = reference(q.detach(), k, v, centre, *config[4:])
    assert compare(alone.numpy(), expected.numpy(), "float64").ok


@KERNEL
def test_kernel_rejects_maps_that_do_not_fit():
    q, k, v, centre, _ = _inputs((1, 2, 6, 6, 3, 1, 1), torch.float32, 0)
    with pytest.raises(ValueError, match="do not fit"):
        attention_kernel.forward(q, k[..., :-1], v, centre, 3, 1, 1, False)
    with pytest.raises(ValueError, match="reflection pad 3"):
        attention_kernel.forward(q[..., :3, :3], k[..., :3, :3], v, centre, 7, 1, 1, False)


def test_dtypes_without_a_kernel_take_the_torch_path():
    for dtype in (torch.float16, torch.bfloat16):
        assert la.backend(torch.empty(0, dtype=dtype)) == "torch"
    kernel = "cpu-kernel" if attention_kernel.available() else "torch"
    for dtype in (torch.float32, torch.float64):
        assert la.backend(torch.empty(0, dtype=dtype)) == kernel


@KERNEL
def test_windows_beyond_the_kernel_take_the_torch_path():
    q = torch.empty(1, 1, 1, 1)
    largest = attention_kernel.library().acmix_attention_max_k()
    assert attention_kernel.supports(largest, q) and not attention_kernel.supports(largest + 1, q)


def _model_output(x):
    torch.manual_seed(0)
    model = torch_ref.ACmix(4, 6, 3, 2, stride=2).double()
    out = model(x)
    out.sum().backward()
    return out.detach(), model.conv1.weight.grad


def test_env_var_forces_the_torch_path(monkeypatch):
    x = torch.randn(2, 4, 9, 7, dtype=torch.float64)
    default = _model_output(x)
    monkeypatch.setenv(attention_kernel.ENV, "0")
    assert la.backend() == "torch"
    assert "forces the PyTorch path" in attention_kernel.why_not()
    forced = _model_output(x)
    for a, b in zip(default, forced):
        assert compare(a.numpy(), b.numpy(), "float64").ok


@pytest.mark.parametrize("contents", [None, b"not a shared library"], ids=["absent", "corrupt"])
def test_fallback_when_the_kernel_cannot_load(monkeypatch, tmp_path, contents):
    if contents is not None:
        name = attention_kernel.MODULE + importlib.machinery.EXTENSION_SUFFIXES[0]
        (tmp_path / name).write_bytes(contents)
    lib, why = attention_kernel.load(tmp_path)
    assert lib is None
    assert ("cannot be loaded" if contents else "no _local_attention_cpu library") in why
    monkeypatch.setattr(attention_kernel, "_loaded", (lib, why))
    assert la.backend() == "torch" and attention_kernel.why_not() == why
    x = torch.randn(1, 4, 8, 9, dtype=torch.float64)
    out, grad = _model_output(x)
    torch.manual_seed(0)
    model = torch_ref.ACmix(4, 6, 3, 2, stride=2, attn_impl="unfold").double()
    expected = model(x)
    expected.sum().backward()
    assert compare(out.numpy(), expected.detach().numpy(), "float64").ok
    assert compare(grad.numpy(), model.conv1.weight.grad.numpy(), "float64").ok


def test_kernel_is_built_in_ci():
    """CI runs set-up on a clean clone with a compiler: the compiled path must be the one
    tested there."""
    if os.environ.get("CI") != "true":
        pytest.skip("not CI")
    assert attention_kernel.available(), attention_kernel.why_not()
    assert la.backend() == "cpu-kernel"


@KERNEL
@pytest.mark.parametrize("k_att", [3, 7])
def test_kernel_softmax_weights_float32(k_att):
    """The kernel's own exp and softmax, on logits that float32 holds exactly (one channel,
    values on a 2^-6 grid): each weight within the roundoff of its computation of the float64
    softmax: (k_att^2 - 1) u for the sum, 2 u for exp, u for the division, and |logit - max| u
    for the subtraction, relative to the weight itself."""
    g = torch.Generator().manual_seed(k_att)
    h = w = 2 * k_att + 3

    def grid(*shape):
        return torch.randint(-128, 129, shape, generator=g).double() / 64

    q, k, v, centre = grid(2, 1, h, w), grid(2, 1, h, w), grid(2, 1, h, w), grid(2, 1, h, w)
    pad = (k_att - 1) // 2
    windows = F.unfold(F.pad(k, (pad,) * 4, mode="reflect"), k_att).view(2, k_att ** 2, h, w)
    logits = q * windows + centre
    expected = torch.softmax(logits, dim=1)
    q, k, v, centre = (t.float() for t in (q, k, v, centre))
    _, att = attention_kernel.forward(q, k, v, centre, k_att, 1, 1, True)
    weights = attention_kernel.weights(att, q, k, k_att, 1, 1).double()
    spread = logits.amax(1, keepdim=True) - logits
    bound = (k_att ** 2 + 2 + spread) * UNIT_ROUNDOFF["float32"] * expected
    excess = (weights - expected).abs() / bound
    assert float(excess.max()) <= 1.0, f"worst weight error {float(excess.max()):.2f} of its bound"
