"""The harness has teeth: each classic porting bug, injected into the MindSpore side (or the
converter), is caught by the normal checks the property tests run."""
import dataclasses
import tempfile

import numpy as np
import pytest
from mindspore import nn, ops

import ckpt_convert.plan
import ms_acmix
import ms_acmix.acmix
import ms_acmix.local_attention
import ms_acmix.shift_conv
import ms_acmix.resnet
import ms_acmix.swin
from parity.checks import (check_checkpoint_roundtrip, check_forward, check_gradients,
                           check_train_forward)
from parity.fixed_configs import ACMIX, RESNET, SWIN, SWIN_BLOCKS

ACMIX_UNFOLD = [dataclasses.replace(c, ms_attn_impl="unfold") for c in ACMIX]

def _caught(check, configs):
    for config in configs:
        with pytest.raises(AssertionError):
            check(config)


def test_tanh_gelu(monkeypatch):
    monkeypatch.setattr(ms_acmix.swin, "gelu_exact", lambda: nn.GELU(approximate=True))
    _caught(check_forward, [SWIN])


def test_layer_norm_epsilon_1e_7(monkeypatch):
    monkeypatch.setattr(ms_acmix.swin, "layer_norm", lambda dim, eps=1e-5: nn.LayerNorm(
        (dim,), begin_norm_axis=-1, begin_params_axis=-1, epsilon=1e-7))
    _caught(check_forward, SWIN_BLOCKS + [SWIN])


def test_batch_norm_momentum_not_translated(monkeypatch):
    monkeypatch.setattr(ms_acmix.resnet, "batch_norm2d", lambda n, eps=1e-5, torch_momentum=0.1:
                        nn.BatchNorm2d(n, eps=eps, momentum=torch_momentum))
    check_forward(RESNET)  # eval mode uses the moving statistics only: no difference there
    _caught(check_train_forward, [RESNET])


def test_zero_dep_conv_bias_kept(monkeypatch):
    original = ms_acmix.acmix.conv2d

    def conv2d_keeping_bias(*args, **kwargs):
        if "weight_init" not in kwargs:  # only dep_conv passes its shift kernels
            return original(*args, **kwargs)
        conv = original(*args, **{**kwargs, "has_bias": True})
        conv.bias.set_data(ops.zeros(conv.bias.shape, conv.bias.dtype))
        return conv

    monkeypatch.setattr(ms_acmix.acmix, "conv2d", conv2d_keeping_bias)
    _caught(check_gradients, ACMIX)


def test_zero_padding_instead_of_reflection(monkeypatch):
    def unfold_zero_padded(self, t):
        p = self.pad_att
        cols = ops.unfold(ops.pad(t, (p, p, p, p), mode="constant", value=0.0), self.k_att,
                          dilation=self.dilation, padding=0, stride=self.stride)
        h_out = -(-t.shape[2] // self.stride)
        w_out = -(-t.shape[3] // self.stride)
        return cols.reshape(t.shape[0], self.head_dim, self.k_att ** 2, h_out, w_out)

    monkeypatch.setattr(ms_acmix.ACmix, "_unfold", unfold_zero_padded)
    _caught(check_forward, ACMIX_UNFOLD)


def test_fast_attention_window_off_by_one(monkeypatch):
    original = ms_acmix.local_attention.window_mask

    def shifted_mask(tile, halo, k_att, dilation, stride):
        mask = original(tile, halo, k_att, dilation, stride).asnumpy()
        return ms_acmix.local_attention.Tensor(np.roll(mask, 1, axis=1))

    monkeypatch.setattr(ms_acmix.local_attention, "window_mask", shifted_mask)
    _caught(check_forward, ACMIX)


def test_fast_attention_zero_padding_instead_of_reflection(monkeypatch):
    def zero_pad(x, pad):
        return ops.pad(x, (pad,) * 4, mode="constant", value=0.0)

    monkeypatch.setattr(ms_acmix.acmix.exportable, "reflect_pad", zero_pad)
    _caught(check_forward, ACMIX)


def test_shift_conv_backward_taps_not_flipped(monkeypatch):
    original = ms_acmix.shift_conv.tap_indices
    monkeypatch.setattr(ms_acmix.shift_conv, "tap_indices",
                        lambda h, w, k, flip: original(h, w, k, 0))
    _caught(check_gradients, [ACMIX[0]])  # stride 1: the conv path runs through ShiftConv


def test_fast_attention_softmax_backward_without_row_sum(monkeypatch):
    def bprop_no_row_sum(self, q, kp, vp, out, dout):
        zero_out_t = out[2] * 0.0  # the row sum sum_j a_j (do . v_j) = do . out drops out
        return original(self, q, kp, vp, (out[0], out[1], zero_out_t), dout)

    original = ms_acmix.local_attention.LocalAttention.bprop
    monkeypatch.setattr(ms_acmix.local_attention.LocalAttention, "bprop", bprop_no_row_sum)
    _caught(check_gradients, ACMIX)


def test_conv_path_channel_order_swapped(monkeypatch):
    def forward_conv_head_major(self, q, k, v):
        b, _, h, w = q.shape
        shape = (b, self.head, self.head_dim, h * w)
        f_all = self.fc(ops.cat((q.reshape(shape), k.reshape(shape), v.reshape(shape)), 1))
        return self.dep_conv(f_all.reshape(b, -1, h, w))  # (k^2, head_dim), not transposed

    monkeypatch.setattr(ms_acmix.ACmix, "forward_conv", forward_conv_head_major)
    _caught(check_forward, ACMIX)


def test_transposed_dense_weight_in_converter(monkeypatch):
    original = ckpt_convert.plan._map

    def map_transposing_square_dense(plan, source, name, array, dst, target):
        if array.ndim == 2 and array.shape[0] == array.shape[1]:
            array = np.ascontiguousarray(array.T)
        original(plan, source, name, array, dst, target)

    monkeypatch.setattr(ckpt_convert.plan, "_map", map_transposing_square_dense)
    with tempfile.TemporaryDirectory() as workdir:
        _caught(lambda c: check_checkpoint_roundtrip(c, workdir), [SWIN])


def test_the_same_checks_pass_without_a_bug():
    for config in ACMIX + ACMIX_UNFOLD + SWIN_BLOCKS + [SWIN]:
        check_forward(config)
    check_train_forward(RESNET)
    check_gradients(ACMIX[0])
    with tempfile.TemporaryDirectory() as workdir:
        check_checkpoint_roundtrip(SWIN, workdir)
