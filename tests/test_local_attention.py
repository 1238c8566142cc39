"""The fast local attention (attn_impl="fast", with MindSpore's ShiftConv conv path at stride 1)
against the official unfold formulation, in both frameworks, under the parity tolerance policy;
and against the numpy oracle."""
import dataclasses

import numpy as np
import pytest
import torch
from mindspore import Tensor

import ms_acmix
import ms_acmix.models.local_attention
import ms_acmix.models.shift_conv
import torch_ref
from acmix_common.tolerance import assert_close, compare
from parity.error_model import UNIT_ROUNDOFF, compare_to_reference
from parity.checks import check_forward, check_gradients
from parity.strategies import AcmixConfig
from parity.twins import (build, draw_cotangent, draw_input, forward_computation,
                          grads_computation, reference, torch_forward, torch_grads)
from parity.weights import torch_to_ms

from .numpy_acmix import acmix_forward

# batch, in, out, k_att, head, k_conv, stride, dilation, height, width
FAST = [
    AcmixConfig(2, 4, 6, 3, 2, 3, 1, 1, 7, 6, seed=11),
    AcmixConfig(1, 3, 8, 7, 2, 3, 1, 1, 9, 11, seed=12),      # official k_att, odd sizes
    AcmixConfig(2, 4, 8, 7, 4, 3, 2, 1, 11, 9, seed=13),      # stride 2 on odd sizes
    AcmixConfig(1, 5, 6, 5, 3, 1, 2, 2, 10, 13, seed=14, input_scale=0.03),  # dilation 2
    AcmixConfig(2, 3, 4, 1, 2, 3, 2, 1, 5, 6, seed=15),       # k_att 1: one window position
    AcmixConfig(1, 4, 6, 3, 1, 5, 3, 2, 8, 7, seed=16),       # stride 3, dilation 2
    AcmixConfig(1, 4, 6, 5, 2, 5, 1, 1, 8, 9, seed=17),       # k_conv 5 through ShiftConv
    AcmixConfig(1, 2, 2, 1, 1, 5, 1, 1, 1, 3, seed=18),       # a map thinner than k_conv // 2
]
GRAPH = [FAST[2], FAST[4], FAST[-1]]  # the last: ShiftConv (stride 1), thin map
CHUNKED = [AcmixConfig(3, 4, 6, 3, 2, 3, 1, 1, 7, 6, seed=19),  # ShiftConv, three samples
           AcmixConfig(2, 4, 8, 5, 4, 3, 2, 1, 9, 10, seed=20)]  # stride 2


def _ids(configs):
    return [f"k{c.k_att}s{c.stride}d{c.dilation}" for c in configs]


@pytest.mark.parametrize("config", FAST, ids=_ids(FAST))
def test_torch_fast_float32_against_official_float64(config):
    """PyTorch fast float32 against the official formulation in float64, bounded (as for
    MindSpore) by the official formulation's float32 noise."""
    t_fast, _ = build(dataclasses.replace(config, torch_attn_impl="fast"))
    t_ref, _ = build(dataclasses.replace(config, torch_attn_impl="unfold"))
    x = draw_input(config)
    ref, noise = reference(forward_computation, t_ref, {"x": x}, config.seed)
    result = compare_to_reference(torch_forward(t_fast, x), ref["output"], noise["output"])
    assert result.ok, f"forward: {result}"
    cotangent = draw_cotangent(t_ref, x, config.seed + 1)
    ref64, noise = reference(grads_computation, t_ref, dict(x=x, cotangent=cotangent),
                             config.seed)
    fast = torch_grads(t_fast, x, cotangent)
    fast64 = torch_grads(t_fast, x, cotangent, torch.float64)
    context = max(float(np.abs(g).max()) for g in ref64.values())
    assert set(fast) == set(ref64)
    for name in ref64:
        result = compare_to_reference(fast[name], ref64[name], noise[name], context,
                                      kind="grad")
        assert result.ok, f"gradient of {name}: {result}"
        # float64 against float64, the conv_p bias (zero by cancellation) at its context scale
        exact = compare(fast64[name], ref64[name], "float64", "forward")
        assert exact.max_abs <= exact.bound + UNIT_ROUNDOFF["float64"] * context, \
            f"float64 gradient of {name}: {exact}"


@pytest.mark.parametrize("ms_impl", ["fast", "unfold"])
@pytest.mark.parametrize("config", FAST, ids=_ids(FAST))
def test_mindspore_against_torch_float64_pynative(config, ms_impl):
    for torch_impl in ("unfold", "fast"):
        drawn = dataclasses.replace(config, torch_attn_impl=torch_impl, ms_attn_impl=ms_impl)
        check_forward(drawn)
        check_gradients(drawn)


@pytest.mark.parametrize("config", GRAPH, ids=_ids(GRAPH))
def test_mindspore_fast_graph_mode(config):
    check_forward(config, graph=True)
    check_gradients(config, graph=True)


@pytest.mark.parametrize("graph", [False, True], ids=["pynative", "graph"])
@pytest.mark.parametrize("config", CHUNKED, ids=_ids(CHUNKED))
def test_one_sample_a_chunk(monkeypatch, config, graph):
    """LocalAttention and ShiftConv run the batch in chunks, one after the other; at test sizes
    one chunk holds the whole batch, so the budgets are cut to one sample a chunk here."""
    monkeypatch.setattr(ms_acmix.models.local_attention, "CHUNK_BYTES", 1)
    monkeypatch.setattr(ms_acmix.models.shift_conv, "CHUNK_BYTES", 1)
    check_forward(config, graph=graph)
    check_gradients(config, graph=graph)


@pytest.mark.parametrize("config", FAST[:4], ids=_ids(FAST[:4]))
def test_fast_matches_numpy_oracle(config):
    t_model = torch_ref.ACmix(**config.kwargs, attn_impl="fast").double()
    torch.manual_seed(config.seed)
    with torch.no_grad():
        for p in t_model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    x = draw_input(config).astype(np.float64)
    params = {k: v.numpy() for k, v in t_model.state_dict().items()}
    expected = acmix_forward(params, x, config.k_att, config.head, config.k_conv, config.stride,
                             config.dilation)
    with torch.no_grad():
        actual = t_model(torch.from_numpy(x)).numpy()
    assert_close(actual, expected, "float64", what="torch fast float64 against the oracle")
    m_model = ms_acmix.ACmix(**config.kwargs, attn_impl="fast")
    torch_to_ms(t_model.float(), m_model)
    actual = m_model(Tensor(x.astype(np.float32))).asnumpy()
    assert_close(actual, expected, "float32", what="MindSpore fast against the oracle")


@pytest.mark.parametrize("kernel_bug", ["transposed taps", "groups swapped"])
def test_the_torch_fast_check_sees_a_wrong_conv_kernel(monkeypatch, kernel_bug):
    """The fused conv path's kernel built wrong (taps transposed; fc's q|k|v rows taken in
    head-major order) fails the forward check that the right one passes."""
    config = FAST[1]
    t_ref, _ = build(dataclasses.replace(config, torch_attn_impl="unfold"))
    x = draw_input(config)
    ref, noise = reference(forward_computation, t_ref, {"x": x}, config.seed)
    right = torch_ref.ACmix.forward_conv_fast

    def wrong(self, qkv):
        if kernel_bug == "transposed taps":
            with torch.no_grad():
                self.dep_conv.weight.copy_(self.dep_conv.weight.transpose(2, 3).clone())
            try:
                return right(self, qkv)
            finally:
                with torch.no_grad():
                    self.dep_conv.weight.copy_(self.dep_conv.weight.transpose(2, 3).clone())
        b, _, h, w = qkv.shape
        swapped = qkv.view(b, 3, self.head, self.head_dim, h, w).transpose(1, 2)
        return right(self, swapped.reshape(qkv.shape))

    t_fast, _ = build(dataclasses.replace(config, torch_attn_impl="fast"))
    assert compare_to_reference(torch_forward(t_fast, x), ref["output"], noise["output"]).ok
    monkeypatch.setattr(torch_ref.ACmix, "forward_conv_fast", wrong)
    result = compare_to_reference(torch_forward(t_fast, x), ref["output"], noise["output"])
    assert not result.ok and result.max_abs > 10 * result.bound, result


def test_same_parameters_and_init_for_both_impls():
    states = []
    for impl in ("fast", "unfold"):
        torch.manual_seed(0)
        states.append(torch_ref.ACmix(6, 8, 3, 2, attn_impl=impl).state_dict())
    assert list(states[0]) == list(states[1])
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    names = [[n for n, _ in ms_acmix.ACmix(6, 8, 3, 2, attn_impl=impl).parameters_and_names()]
             for impl in ("fast", "unfold")]
    assert names[0] == names[1]


@pytest.mark.parametrize("framework", [torch_ref, ms_acmix])
def test_attn_impl_and_mixer_are_validated(framework):
    with pytest.raises(ValueError, match="attn_impl='im2col'"):
        framework.ACmix(4, 4, attn_impl="im2col")
    with pytest.raises(ValueError, match="attn_impl='slow'"):
        framework.create_model("acmix_resnet26", attn_impl="slow")
    with pytest.raises(ValueError, match="mixer='mlp'"):
        framework.create_model("acmix_swin_tiny", mixer="mlp")


@pytest.mark.slow
def test_torch_fast_exports_to_onnx(tmp_path):
    """torch.onnx.export (dynamo, dynamic batch, as model_export does) of a fast-path model
    (traced as the official formulation); onnxruntime at another batch against PyTorch."""
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    model = torch_ref.ACmix(4, 6, 3, 2, stride=2).eval()
    batch = torch.export.Dim("batch", min=1, max=64)
    path = str(tmp_path / "acmix.onnx")
    with torch.no_grad():
        torch.onnx.export(model, (torch.randn(1, 4, 9, 8),), path, dynamo=True,
                          dynamic_shapes=({0: batch},), verify=False)
        x = torch.randn(3, 4, 9, 8)
        expected = model(x).numpy()
    session = ort.InferenceSession(path)
    actual = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    assert_close(actual, expected, "float32", what="onnxruntime against PyTorch")
