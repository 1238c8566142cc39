"""ACmix's conv path (the grouped k x k convolution dep_conv, stride 1) as gathers and batched
matmuls, with a hand-written backward: MindSpore 2.10's CPU grouped Conv2D takes ~1 s forward
at (8, 144, 56, 56) with 16 groups, where this takes a small fraction (docs/benchmarks.md).

Layout: channels-first with the batch innermost, (groups, per-group channels, positions, batch),
so that one Gather on the position axis yields the k^2 taps of every channel contiguously and
one BatchMatMul per group applies the kernel. The input gradient is the same gather on the
output gradient with the taps flipped (a stride-1 convolution's transpose).
"""
import numpy as np
from mindspore import Tensor, nn, ops


def tap_indices(h: int, w: int, k: int, flip: int) -> Tensor:
    """(k^2 * h * w,) flat indices into a map zero padded by p = k // 2, tap-major: tap (a, b)
    of position (y, x) reads (y + a, x + b), or (y + 2p - a, x + 2p - b) with flip = 1."""
    p = k // 2
    wp = w + 2 * p
    taps = 2 * p * flip + (1 - 2 * flip) * np.arange(k)
    rows = np.arange(h).reshape(1, 1, h, 1) + taps.reshape(k, 1, 1, 1)
    cols = np.arange(w).reshape(1, 1, 1, w) + taps.reshape(1, k, 1, 1)
    return Tensor((rows * wp + cols).reshape(-1).astype(np.int32))


class ShiftConv(nn.Cell):
    """conv2d(x, weight, padding=k // 2, groups=groups), stride 1, no bias, odd k > 1.

    Inputs: x (n, groups * c_in, h, w), weight (groups * c_out, c_in, k, k). Returns (output
    (n, groups * c_out, h, w), the gathered taps, kept for ``bprop``).

    Args:
        groups: convolution groups.
    """

    def __init__(self, groups: int):
        super().__init__()
        self.groups = groups
        # A bprop may not build primitives (as ops.gather and ops.tile do).
        self.gather = ops.Gather()
        self.tile = ops.Tile()
        self.matmul = ops.BatchMatMul()
        self.matmul_tb = ops.BatchMatMul(transpose_b=True)

    def _taps(self, x: Tensor, k: int, flip: int) -> Tensor:
        """(n, c, h, w) -> (groups, c / groups * k^2, h * w * n), zero padding k // 2 (> 0)."""
        n, c, h, w = x.shape
        p = k // 2
        x = ops.transpose(x, (1, 2, 3, 0))
        # Zeros by Concat (the ONNX exporter has no PadV3), made from x so that no constant
        # depends on the batch (the exported graph is made batch-generic): exact for finite x.
        # One row/column of zeros tiled p times: the map may be thinner than p.
        side = self.tile(x[:, :, :1] * 0.0, (1, 1, p, 1))
        x = ops.cat((side, x, side), 2)
        edge = self.tile(x[:, :1] * 0.0, (1, p, 1, 1))
        x = ops.cat((edge, x, edge), 1)
        x = x.reshape(self.groups, c // self.groups, (h + 2 * p) * (w + 2 * p), n)
        cols = self.gather(x, tap_indices(h, w, k, flip), 2)
        return cols.reshape(self.groups, c // self.groups * k * k, h * w * n)

    def construct(self, x: Tensor, weight: Tensor):
        n, _, h, w = x.shape
        c_out, c_in, k = weight.shape[0], weight.shape[1], weight.shape[2]
        cols = self._taps(x, k, 0)
        kernel = weight.reshape(self.groups, c_out // self.groups, c_in * k * k)
        out = self.matmul(kernel, cols).reshape(c_out, h, w, n)
        return ops.transpose(out, (3, 0, 1, 2)), cols

    def bprop(self, x, weight, out, dout):
        # Under mixed precision the inputs given here may be the ones before the cell cast them:
        # compute in the forward's dtype, return each gradient in its input's dtype.
        cols = out[1]
        weight_dtype, x_dtype = weight.dtype, x.dtype
        weight = ops.cast(weight, cols.dtype)
        n, _, h, w = x.shape
        c_out, c_in, k = weight.shape[0], weight.shape[1], weight.shape[2]
        per_group = c_out // self.groups
        grad_out = ops.transpose(dout[0], (1, 2, 3, 0)).reshape(self.groups, per_group,
                                                                 h * w * n)
        grad_weight = self.matmul_tb(grad_out, cols).reshape(c_out, c_in, k, k)
        kernel_t = ops.transpose(weight.reshape(self.groups, per_group, c_in, k * k),
                                 (0, 2, 1, 3)).reshape(self.groups, c_in, per_group * k * k)
        grad_cols = self._taps(dout[0], k, 1)
        grad_x = self.matmul(kernel_t, grad_cols).reshape(self.groups * c_in, h, w, n)
        return (ops.cast(ops.transpose(grad_x, (3, 0, 1, 2)), x_dtype),
                ops.cast(grad_weight, weight_dtype))
