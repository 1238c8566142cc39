"""The ACmix module in MindSpore, numerically the twin of ``torch_ref.models.acmix.ACmix``.

Built only from ops that run on CPU, GPU and Ascend. ``attn_impl="fast"`` (the default):
reflection padding as gathers (``exportable.reflect_pad``), the attention tile by tile through
batched matmuls (``LocalAttention``), and at stride 1 (k_conv > 1) the conv path's grouped
convolution as a gather and a matmul (``ShiftConv``; at stride 2 the grouped ``nn.Conv2d``); both
cells carry hand-written ``bprop``s. ``attn_impl="unfold"``: the official formulation,
``ops.pad(mode='reflect')`` and ``ops.unfold`` (torch's F.unfold layout) for the windows and the
grouped ``nn.Conv2d``. With ``exportable_ops`` set (``exportable.use_exportable_ops``) the
unfold path's pad and unfold become the exact gather and one-hot-convolution forms that export
to ONNX; the fast path exports as it is (``LocalAttention`` then broadcasts its mask).
"""
import numpy as np
import mindspore as ms
from mindspore import Parameter, Tensor, nn, ops

from acmix_common.checks import (attention_pad, check_acmix_args, check_acmix_input,
                                 check_attn_impl, out_size, shift_kernels)

from . import exportable
from .layers import conv2d
from .local_attention import LocalAttention, channels_first, channels_last, identity
from .shift_conv import ShiftConv


def position_grid(h: int, w: int, dtype) -> Tensor:
    """(1, 2, h, w): channel 0 is linspace(-1, 1, w) along the width, channel 1 along the height.

    Built in numpy (float64, rounded once to float32): a compile-time constant in GRAPH mode, and
    free of ``ops.linspace``, which rejects the float16 scalars that ``to_float`` hands it.
    """
    loc_w = np.broadcast_to(np.linspace(-1.0, 1.0, w).reshape(1, w), (h, w))
    loc_h = np.broadcast_to(np.linspace(-1.0, 1.0, h).reshape(h, 1), (h, w))
    grid = np.stack([loc_w, loc_h]).reshape(1, 2, h, w).astype(np.float32)
    return Tensor(grid, ms.float32).astype(dtype)


def subsample(t: Tensor, stride: int) -> Tensor:
    """t[:, :, ::stride, ::stride] as two gathers: MindSpore 2.10's CPU StridedSliceGrad fails
    ("input memory out of bounds") on a strided slice whose last axis has size 1."""
    rows = Tensor(np.arange(0, t.shape[2], stride, dtype=np.int32))
    cols = Tensor(np.arange(0, t.shape[3], stride, dtype=np.int32))
    return ops.gather(ops.gather(t, rows, 2), cols, 3)


class ACmix(nn.Cell):
    """Shared 1x1 projections feeding a local self-attention path and a shift-convolution path.

    Args:
        in_planes: input channels.
        out_planes: output channels; divisible by ``head``.
        k_att: attention window (odd).
        head: attention heads.
        k_conv: convolution kernel of the conv path (odd).
        stride: spatial stride of both paths; output size is ceil(size / stride).
        dilation: dilation of the attention window.
        attn_impl: "fast" (tiled attention, ``LocalAttention``, and at stride 1 the conv path's
            grouped conv as ``ShiftConv``; exportable as they are) or "unfold" (the official
            formulation); the same numbers within float roundoff.
    """

    def __init__(self, in_planes: int, out_planes: int, k_att: int = 7, head: int = 4,
                 k_conv: int = 3, stride: int = 1, dilation: int = 1, attn_impl: str = "fast"):
        super().__init__()
        self.head_dim = check_acmix_args(in_planes, out_planes, k_att, head, k_conv, stride,
                                         dilation)
        self.attn_impl = check_attn_impl(attn_impl)
        self.in_planes, self.out_planes = in_planes, out_planes
        self.k_att, self.head, self.k_conv = k_att, head, k_conv
        self.stride, self.dilation = stride, dilation
        self.pad_att = attention_pad(k_att, dilation)
        self.scaling = float(self.head_dim) ** -0.5
        self.exportable_ops = False

        self.rate1 = Parameter(Tensor(np.full((1,), 0.5, np.float32)), name="rate1")
        self.rate2 = Parameter(Tensor(np.full((1,), 0.5, np.float32)), name="rate2")
        self.conv1 = conv2d(in_planes, out_planes, 1, has_bias=True)
        self.conv2 = conv2d(in_planes, out_planes, 1, has_bias=True)
        self.conv3 = conv2d(in_planes, out_planes, 1, has_bias=True)
        self.conv_p = conv2d(2, self.head_dim, 1, has_bias=True)
        self.fc = conv2d(3 * head, k_conv * k_conv, 1, has_bias=False)
        self.dep_conv = conv2d(k_conv * k_conv * self.head_dim, out_planes, k_conv, stride=stride,
                               padding=k_conv // 2, group=self.head_dim, has_bias=False,
                               weight_init=Tensor(shift_kernels(k_conv, out_planes)))
        self.local_attention = LocalAttention(k_att, dilation, stride)
        self.shift_conv = ShiftConv(self.head_dim)
        self.matmul_tt = ops.BatchMatMul(transpose_a=True, transpose_b=True)
        self.matmul_tb = ops.BatchMatMul(transpose_b=True)

    def _unfold(self, t: Tensor) -> Tensor:
        """(n, head_dim, h, w) -> (n, head_dim, k_att^2, h_out, w_out), reflection padded."""
        p = self.pad_att
        if self.exportable_ops:
            cols = exportable.unfold(exportable.reflect_pad(t, p), self.k_att, self.dilation,
                                     self.stride)
        else:
            cols = ops.unfold(ops.pad(t, (p, p, p, p), mode="reflect"), self.k_att,
                              dilation=self.dilation, padding=0, stride=self.stride)
        h_out, w_out = out_size(t.shape[2], self.stride), out_size(t.shape[3], self.stride)
        return cols.reshape(t.shape[0], self.head_dim, self.k_att * self.k_att, h_out, w_out)

    def forward_attention(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        if self.attn_impl == "fast":
            return self.forward_attention_fast(q, k, v)
        b, _, h, w = q.shape
        s = self.stride
        pe = self.conv_p(position_grid(h, w, q.dtype))
        q_att = q.reshape(b * self.head, self.head_dim, h, w) * self.scaling
        k_att = k.reshape(b * self.head, self.head_dim, h, w)
        v_att = v.reshape(b * self.head, self.head_dim, h, w)
        q_pe = pe
        if s > 1:
            q_att = subsample(q_att, s)
            q_pe = subsample(pe, s)
        unfold_k = self._unfold(k_att)
        unfold_pe = self._unfold(pe)
        att = (q_att.expand_dims(2) * (unfold_k + q_pe.expand_dims(2) - unfold_pe)).sum(1)
        if self.k_att > 1:
            out = (ops.softmax(att, axis=1).expand_dims(1) * self._unfold(v_att)).sum(2)
        else:  # one position, weight 1. Not a softmax: MindSpore 2.10's CPU SoftmaxGrad over a
            out = self._unfold(v_att).sum(2)  # length-1 axis corrupts later softmax gradients.
        return out.reshape(b, self.out_planes, out.shape[-2], out.shape[-1])

    def forward_attention_fast(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        b, _, h, w = q.shape
        n = b * self.head
        pe = self.conv_p(position_grid(h, w, q.dtype))
        if not self.exportable_ops:  # a same-shape op: a broadcasting one keeps an index per
            pe = ops.tile(pe, (n, 1, 1, 1))  # element on MindSpore's CPU
        q_att = q.reshape(n, self.head_dim, h, w) * self.scaling
        k_att = k.reshape(n, self.head_dim, h, w)
        v_att = v.reshape(n, self.head_dim, h, w)
        # The window-constant logit q . pe_centre rides along as one more channel against ones:
        # softmax cancels it, but its gradient cancels the roundoff of the pe gradient as in
        # the reference. LocalAttention pads, and picks the strided queries, by its indices.
        centre = (q_att * pe).sum(1, keepdims=True)
        ones = k_att[:, :1] * 0.0 + 1.0  # no batch-sized constant in an exported graph
        last = self.exportable_ops
        out = self.local_attention(channels_last(ops.cat((q_att, centre), 1), last),
                                   channels_last(ops.cat((k_att - pe, ones), 1), last),
                                   channels_last(v_att, last))
        out = channels_first(out, last)
        return out.reshape(b, self.out_planes, out.shape[-2], out.shape[-1])

    def forward_conv(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        b, _, h, w = q.shape
        shape = (b, self.head, self.head_dim * h * w)
        qkv = ops.cat((q.reshape(shape), k.reshape(shape), v.reshape(shape)), 1)
        if (self.attn_impl == "fast" and self.stride == 1 and self.k_conv > 1
                and not self.exportable_ops):
            # fc as one matmul into (b * head_dim, h * w, k_conv^2), each head_dim index a
            # group, then channels first by a matmul with the identity (exact): no Transpose.
            # Explicit casts: under mixed precision the weights' gradients go back through
            # them to the float32 parameters (the cell's own input cast does not, in GRAPH).
            taps = self.k_conv * self.k_conv
            fc = ops.cast(self.fc.weight, qkv.dtype).reshape(1, taps, 3 * self.head)
            f_conv = self.matmul_tt(qkv, ops.tile(fc, (b, 1, 1)))
            f_conv = f_conv.reshape(b * self.head_dim, h * w, taps)
            eye = identity(b * self.head_dim, taps, taps).astype(f_conv.dtype)
            f_conv = self.matmul_tb(eye, f_conv).reshape(b * self.head_dim, taps, h, w)
            return self.shift_conv(f_conv, ops.cast(self.dep_conv.weight, f_conv.dtype))
        f_all = self.fc(qkv.reshape(b, 3 * self.head, self.head_dim, h * w))
        f_conv = ops.transpose(f_all, (0, 2, 1, 3)).reshape(b, -1, h, w)
        return self.dep_conv(f_conv)

    def construct(self, x: Tensor) -> Tensor:
        check_acmix_input(x.shape[2], x.shape[3], self.k_att, self.dilation)
        q, k, v = self.conv1(x), self.conv2(x), self.conv3(x)
        out_att, out_conv = self.forward_attention(q, k, v), self.forward_conv(q, k, v)
        return self.rate1 * out_att + self.rate2 * out_conv
