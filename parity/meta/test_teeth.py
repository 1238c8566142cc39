"""The harness has teeth: each classic porting bug, injected into the MindSpore side (or the
converter), is caught by the normal checks the property tests run. Each catch records its
detection margin (worst error over bound), printed at the end of the run and in the report."""
import dataclasses
import tempfile

import numpy as np
import pytest
from mindspore import nn, ops

import ckpt_convert.plan
import ms_acmix
import ms_acmix.models.acmix
import ms_acmix.models.local_attention
import ms_acmix.models.shift_conv
import ms_acmix.models.resnet
import ms_acmix.models.swin
from parity import budget
from parity.checks import (ParityFailure, check_checkpoint_roundtrip, check_features,
                           check_forward, check_gradients, check_train_forward)
from parity.fixed_configs import ACMIX, RESNET, SWIN, SWIN_BLOCKS
from parity.strategies import (acmix_configs, feature_configs, model_configs,
                               swin_block_configs)
from parity.report import record_catch

ACMIX_UNFOLD = [dataclasses.replace(c, ms_attn_impl="unfold") for c in ACMIX]
# Draws for the sweeps beyond the ci profile, restricted to where each bug lives.
FAST_DRAWS = acmix_configs().map(lambda c: dataclasses.replace(c, ms_attn_impl="fast"))
UNFOLD_DRAWS = acmix_configs().map(lambda c: dataclasses.replace(c, ms_attn_impl="unfold"))
# ShiftConv runs the conv path at stride 1; a one-tap kernel has nothing to flip.
SHIFT_CONV_DRAWS = FAST_DRAWS.map(lambda c: dataclasses.replace(c, stride=1)).filter(
    lambda c: c.k_conv > 1)
# The two channel orders coincide with one head or one channel a head.
CHANNEL_ORDER_DRAWS = acmix_configs().filter(lambda c: c.head > 1 and c.out_planes > c.head)
SWIN_MODELS = model_configs(names=["acmix_swin_tiny"])
RESNET_MODELS = model_configs(names=["acmix_resnet26"])
SWIN_FEATURES = dataclasses.replace(SWIN, kwargs={**SWIN.kwargs, "features_only": True,
                                                  "out_indices": (0, 1)})
# Epsilon moves a LayerNorm's output by about (1e-5 - 1e-7) / (2 var) relative, var the variance
# it normalises: ~5e-6 at unit variance, near float32 noise (at input scale 1: 1.3x the bound on
# the whole Swin model, 3.7x on a block). Its witnesses are Swin blocks at input scale 0.03,
# whose norm1 normalises a variance of ~1e-3, of which epsilon is 1%.
LAYER_NORM_WITNESSES = [SWIN_BLOCKS[1], dataclasses.replace(SWIN_BLOCKS[0], input_scale=0.03)]


def _margin(error: AssertionError) -> float:
    """Worst error over bound; inf when the parameter sets no longer pair up (caught before any
    number is compared)."""
    return error.worst_ratio if isinstance(error, ParityFailure) else float("inf")


def caught(bug: str, check, configs, drawn=None) -> None:
    """Every fixed config's check must fail. Beyond the ci profile, ``drawn`` (a strategy) adds
    draws: a draw on which the bug changes nothing passes, but at least one must catch it. Each
    catch records its margin for the report."""
    for config in configs:
        with pytest.raises(AssertionError) as failure:
            check(config)
        record_catch(bug, _margin(failure.value))
    if drawn is None or budget.scale() == 1:
        return
    catches = 0
    for config in budget.draws(drawn, budget.scale()):
        try:
            check(config)
        except AssertionError as failure:
            catches += 1
            record_catch(bug, _margin(failure))
    assert catches, f"{bug}: no draw of {budget.scale()} caught it"


def test_tanh_gelu(monkeypatch):
    monkeypatch.setattr(ms_acmix.models.swin, "gelu_exact", lambda: nn.GELU(approximate=True))
    caught("tanh GELU", check_forward, [SWIN], SWIN_MODELS)


def test_layer_norm_epsilon_1e_7(monkeypatch):
    monkeypatch.setattr(ms_acmix.models.swin, "layer_norm", lambda dim, eps=1e-5: nn.LayerNorm(
        (dim,), begin_norm_axis=-1, begin_params_axis=-1, epsilon=1e-7))
    caught("LayerNorm epsilon 1e-7", check_forward, LAYER_NORM_WITNESSES, swin_block_configs())


def test_batch_norm_momentum_not_translated(monkeypatch):
    monkeypatch.setattr(ms_acmix.models.resnet, "batch_norm2d",
                        lambda n, eps=1e-5, torch_momentum=0.1:
                        nn.BatchNorm2d(n, eps=eps, momentum=torch_momentum))
    check_forward(RESNET)  # eval mode uses the moving statistics only: no difference there
    caught("BatchNorm momentum not translated", check_train_forward, [RESNET], RESNET_MODELS)


def test_zero_dep_conv_bias_kept(monkeypatch):
    original = ms_acmix.models.acmix.conv2d

    def conv2d_keeping_bias(*args, **kwargs):
        if "weight_init" not in kwargs:  # only dep_conv passes its shift kernels
            return original(*args, **kwargs)
        conv = original(*args, **{**kwargs, "has_bias": True})
        conv.bias.set_data(ops.zeros(conv.bias.shape, conv.bias.dtype))
        return conv

    monkeypatch.setattr(ms_acmix.models.acmix, "conv2d", conv2d_keeping_bias)
    caught("zero dep_conv bias kept", check_gradients, ACMIX, acmix_configs())


def test_zero_padding_instead_of_reflection(monkeypatch):
    def unfold_zero_padded(self, t):
        p = self.pad_att
        cols = ops.unfold(ops.pad(t, (p, p, p, p), mode="constant", value=0.0), self.k_att,
                          dilation=self.dilation, padding=0, stride=self.stride)
        h_out = -(-t.shape[2] // self.stride)
        w_out = -(-t.shape[3] // self.stride)
        return cols.reshape(t.shape[0], self.head_dim, self.k_att ** 2, h_out, w_out)

    monkeypatch.setattr(ms_acmix.ACmix, "_unfold", unfold_zero_padded)
    caught("zero padding instead of reflection", check_forward, ACMIX_UNFOLD, UNFOLD_DRAWS)


def test_fast_attention_window_off_by_one(monkeypatch):
    original = ms_acmix.models.local_attention.window_mask

    def shifted_mask(tile, halo, k_att, dilation, stride):
        mask = original(tile, halo, k_att, dilation, stride).asnumpy()
        return ms_acmix.models.local_attention.Tensor(np.roll(mask, 1, axis=1))

    monkeypatch.setattr(ms_acmix.models.local_attention, "window_mask", shifted_mask)
    caught("fast attention window off by one", check_forward, ACMIX, FAST_DRAWS)


def test_fast_attention_zero_padding_instead_of_reflection(monkeypatch):
    """The fast path pads by its gather indices: the halo positions past the map read an
    appended zero row instead of their reflection."""
    local_attention = ms_acmix.models.local_attention
    original_flat = local_attention.LocalAttention._flat

    def with_zero_row(x):
        x = original_flat(x)
        return ops.cat((x, x[:, :1] * 0.0), 1)

    def zero_padded(h, w, h_out, w_out, tile, halo, pad, stride):
        nty, ntx = -(-h_out // tile), -(-w_out // tile)
        rows = (np.arange(nty).reshape(nty, 1) * (tile * stride)
                + np.arange(halo).reshape(1, halo) - pad)
        cols = (np.arange(ntx).reshape(ntx, 1) * (tile * stride)
                + np.arange(halo).reshape(1, halo) - pad)
        rows, cols = rows.reshape(nty, 1, halo, 1), cols.reshape(1, ntx, 1, halo)
        inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
        return np.where(inside, rows * w + cols, h * w).reshape(-1)

    monkeypatch.setattr(local_attention.LocalAttention, "_flat", staticmethod(with_zero_row))
    monkeypatch.setattr(local_attention, "_halo_flat", zero_padded)
    caught("fast attention zero padding instead of reflection", check_forward, ACMIX,
           FAST_DRAWS)


def test_shift_conv_backward_taps_not_flipped(monkeypatch):
    original = ms_acmix.models.shift_conv.taps
    monkeypatch.setattr(ms_acmix.models.shift_conv, "taps", lambda h, k, flip: original(h, k, 0))
    # stride 1: the conv path runs through ShiftConv
    caught("ShiftConv backward taps not flipped", check_gradients, [ACMIX[0]], SHIFT_CONV_DRAWS)


def test_fast_attention_softmax_backward_without_row_sum(monkeypatch):
    def bprop_no_row_sum(self, q, k, v, out, dout):
        # the row sum sum_j a_j (do . v_j) = do . out drops out
        return original(self, q, k, v, out * 0.0, dout)

    original = ms_acmix.models.local_attention.LocalAttention.bprop
    monkeypatch.setattr(ms_acmix.models.local_attention.LocalAttention, "bprop", bprop_no_row_sum)
    caught("fast attention softmax backward without row sum", check_gradients, ACMIX,
           FAST_DRAWS)


def test_conv_path_channel_order_swapped(monkeypatch):
    def forward_conv_head_major(self, q, k, v):
        b, _, h, w = q.shape
        shape = (b, self.head, self.head_dim, h * w)
        f_all = self.fc(ops.cat((q.reshape(shape), k.reshape(shape), v.reshape(shape)), 1))
        return self.dep_conv(f_all.reshape(b, -1, h, w))  # (k^2, head_dim), not transposed

    monkeypatch.setattr(ms_acmix.ACmix, "forward_conv", forward_conv_head_major)
    caught("conv path channel order swapped", check_forward, ACMIX, CHANNEL_ORDER_DRAWS)


def test_swin_stage_maps_reshaped_instead_of_transposed(monkeypatch):
    """(B, H*W, C) tokens to an NCHW map by a reshape: the right shape, the wrong layout."""
    original = ms_acmix.models.swin.ACmixSwin.forward_intermediates

    def reshaped(self, *args, **kwargs):
        maps = original(self, *args, **kwargs)
        return [ops.transpose(m, (0, 2, 3, 1)).reshape(m.shape) for m in maps]

    monkeypatch.setattr(ms_acmix.models.swin.ACmixSwin, "forward_intermediates", reshaped)
    caught("Swin stage maps reshaped to NCHW, not transposed", check_features, [SWIN_FEATURES],
           feature_configs(names=["acmix_swin_tiny"]))


def test_transposed_dense_weight_in_converter(monkeypatch):
    original = ckpt_convert.plan._map

    def map_transposing_square_dense(plan, source, name, array, dst, target):
        if array.ndim == 2 and array.shape[0] == array.shape[1]:
            array = np.ascontiguousarray(array.T)
        original(plan, source, name, array, dst, target)

    monkeypatch.setattr(ckpt_convert.plan, "_map", map_transposing_square_dense)
    with tempfile.TemporaryDirectory() as workdir:
        caught("transposed Dense weight in the converter",
               lambda c: check_checkpoint_roundtrip(c, workdir), [SWIN], SWIN_MODELS)


def test_the_same_checks_pass_without_a_bug():
    for config in ACMIX + ACMIX_UNFOLD + SWIN_BLOCKS + LAYER_NORM_WITNESSES[1:] + [SWIN]:
        check_forward(config)
    check_train_forward(RESNET)
    check_gradients(ACMIX[0])
    with tempfile.TemporaryDirectory() as workdir:
        check_checkpoint_roundtrip(SWIN, workdir)
