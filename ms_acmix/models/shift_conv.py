"""ACmix's conv path (the grouped k x k convolution dep_conv, stride 1) as a gather, slices and
batched matmuls, with a hand-written backward: MindSpore 2.10's CPU grouped Conv2D takes ~1 s
forward at (8, 144, 56, 56) with 16 groups, where this takes a small fraction
(docs/benchmarks.md).

Layout: each group of each sample is a batch entry, (n * groups, c_in, h, w), zero padded by
p = k // 2 columns and given a zero row. One Gather of whole rows stacks, for every kernel row
a, the k_h padded rows y + a of each output row y; flattened, the taps (a, b) of every position
on the (h, w + 2p) grid, for one kernel column b, are then a single contiguous slice at offset b
(the grid's last 2p columns are dropped at the end), contracted with the kernel's column b by
one BatchMatMul; the k column slices accumulate. The input gradient is the same on the output
gradient with the taps flipped (a stride-1 convolution's transpose), the weight gradient those
flipped taps against the input: nothing is kept from the forward, and no Transpose runs on a
feature map (MindSpore's CPU Transpose keeps an 8-byte index per element for the graph's life).
"""
import numpy as np
from mindspore import Tensor, nn, ops
from mindspore.ops import constexpr

# Gathered rows of one chunk of samples (float32 bytes); the samples go through in equal chunks,
# one after the other.
CHUNK_BYTES = 8 * 2 ** 20


def taps(h: int, k: int, flip: int):
    """The rows and the column offsets of tap (a, b) of a k x k kernel on an (h, .) map padded
    by p = k // 2 zero columns each side and one zero row (row h), flattened with the padded
    width: (k * h + 1,) rows, a-major (row a * h + y holds map row y + a - p, or the zero row
    past the map; one zero row at the end), and the column offset b of each b. With flip = 1,
    tap (a, b) of the transposed convolution: rows y + p - a, offsets 2p - b."""
    p = k // 2
    shift = (np.arange(k) - p) * (1 - 2 * flip)
    rows = np.arange(h).reshape(1, h) + shift.reshape(k, 1)
    rows = np.where((rows >= 0) & (rows < h), rows, h)
    rows = np.concatenate([rows.reshape(-1), [h]]).astype(np.int32)
    return Tensor(rows), tuple(int(b) for b in 2 * p * flip + (1 - 2 * flip) * np.arange(k))


@constexpr
def sample_chunk(n: int, per_sample_bytes: int) -> int:
    """The largest divisor of n whose chunk fits ``CHUNK_BYTES`` (at least 1)."""
    fits = [d for d in range(1, n + 1) if n % d == 0 and d * per_sample_bytes <= CHUNK_BYTES]
    return max(fits, default=1)


def _chunk(x: Tensor, i: int, chunk: int) -> Tensor:
    """Entries [i * chunk, (i + 1) * chunk) of x."""
    if chunk == x.shape[0]:
        return x
    return ops.slice(x, (i * chunk,) + (0,) * (x.ndim - 1), (chunk,) + x.shape[1:])


class ShiftConv(nn.Cell):
    """conv2d(x, weight, padding=k // 2, groups=groups), stride 1, no bias, odd k > 1.

    Inputs: x (n * groups, c_in, h, w), group g of sample i at i * groups + g; weight
    (groups * c_out, c_in, k, k). Returns (n, groups * c_out, h, w).

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
        self.matmul_ta = ops.BatchMatMul(transpose_a=True)
        self.matmul_tb = ops.BatchMatMul(transpose_b=True)
        self.unstack = ops.Unstack(0)

    def _rows(self, x: Tensor, k: int, rows: Tensor) -> Tensor:
        """(m, c, h, w) -> (m, c, (k h + 1) (w + 2p)): padded, its rows gathered, flattened."""
        m, c, h, w = x.shape
        p = k // 2
        side = ops.zeros((m, c, h, p), x.dtype)
        x = ops.cat((side, x, side), 3)
        x = ops.cat((x, ops.zeros((m, c, 1, w + 2 * p), x.dtype)), 2)
        return self.gather(x, rows, 2).reshape(m, c, -1)

    def _kernels(self, weight: Tensor, n: int, transposed: bool):
        """weight (groups * c_out, c_in, ka, kb) -> kb tensors (n * groups, c_out / groups,
        c_in * ka), or (n * groups, c_out / groups * ka, c_in) if ``transposed``: kernel
        column b, tiled over the samples."""
        c_out, c_in, k = weight.shape[0], weight.shape[1], weight.shape[2]
        per_group = c_out // self.groups
        w = weight.reshape(self.groups, per_group, c_in, k, k)
        if transposed:
            w = ops.transpose(w, (4, 0, 1, 3, 2)).reshape(k, self.groups, per_group * k, c_in)
        else:
            w = ops.transpose(w, (4, 0, 1, 2, 3)).reshape(k, self.groups, per_group, c_in * k)
        return self.unstack(self.tile(w, (1, n, 1, 1)))

    def _chunk_size(self, x: Tensor, k: int) -> int:
        """Samples per chunk."""
        m, c, h, w = x.shape
        return sample_chunk(m // self.groups, self.groups * c * (k * h + 1) * (w + k) * 4)

    def _forward(self, x: Tensor, kernels, k: int) -> Tensor:
        """One chunk: (m, c_in, h, w) -> (m, c_out / groups, h, w + 2p)."""
        m, _, h, w = x.shape
        length = k * h * (w + 2 * (k // 2))
        rows, offsets = taps(h, k, 0)
        x = self._rows(x, k, rows)
        out = None
        for b in range(k):  # one column slice alive at a time
            cols = ops.slice(x if out is None else ops.depend(x, out), (0, 0, offsets[b]),
                             (m, x.shape[1], length)).reshape(m, -1, length // k)
            part = self.matmul(kernels[b], cols)
            out = part if out is None else out + part
        return out

    def construct(self, x: Tensor, weight: Tensor) -> Tensor:
        m, _, h, w = x.shape
        c_out, k = weight.shape[0], weight.shape[2]
        n, chunk = m // self.groups, self._chunk_size(x, k)
        kernels = self._kernels(weight, chunk, False)
        outs = ()
        for i in range(n // chunk):
            x_c = _chunk(x, i, chunk * self.groups)
            if i:
                x_c = ops.depend(x_c, outs[-1])
            outs += (self._forward(x_c, kernels, k).reshape(chunk, c_out, h, -1),)
        out = outs[0] if len(outs) == 1 else ops.cat(outs, 0)
        return ops.slice(out, (0, 0, 0, 0), (n, c_out, h, w))

    def _backward(self, x: Tensor, dout: Tensor, kernels, k: int):
        """One chunk: the input gradient on the padded grid and the weight gradient."""
        m, c_in, h, w = x.shape
        p, wp = k // 2, w + 2 * (k // 2)
        per_group = dout.shape[1] // self.groups
        length = k * h * wp
        rows, offsets = taps(h, k, 1)
        grad = self._rows(dout.reshape(m, per_group, h, w), k, rows)
        # the input on the same grid: zero on the dropped columns
        x_grid = ops.cat((x, ops.zeros((m, c_in, h, 2 * p), x.dtype)), 3).reshape(m, c_in, -1)
        grad_x, grads_w = None, ()
        for b in range(k):  # kernel column b: the flipped taps at offset 2p - b
            src = grad if grad_x is None else ops.depend(grad, grad_x)
            t = ops.slice(src, (0, 0, offsets[b]), (m, per_group, length))
            t = t.reshape(m, per_group * k, h * wp)
            part = self.matmul_ta(kernels[b], t)
            grad_x = part if grad_x is None else grad_x + part
            grads_w += (self.matmul_tb(t, x_grid).reshape(m // self.groups, -1).sum(0),)
        return grad_x, ops.stack(grads_w)

    def bprop(self, x, weight, out, dout):
        # Under mixed precision the inputs given here may be the ones before the cell cast them:
        # compute in the output's dtype, return each gradient in its input's dtype.
        x_dtype, weight_dtype, dtype = x.dtype, weight.dtype, dout.dtype
        if x_dtype != dtype:
            x = ops.cast(x, dtype)
        if weight_dtype != dtype:
            weight = ops.cast(weight, dtype)
        m, c_in, h, w = x.shape
        c_out, k = weight.shape[0], weight.shape[2]
        n, chunk, per_group = m // self.groups, self._chunk_size(x, k), c_out // self.groups
        kernels = self._kernels(weight, chunk, True)
        grads_x, grad_w = (), None
        for i in range(n // chunk):
            x_c, g_c = _chunk(x, i, chunk * self.groups), _chunk(dout, i, chunk)
            if i:
                x_c, g_c = ops.depend(x_c, grads_x[-1]), ops.depend(g_c, grads_x[-1])
            grad_x, part = self._backward(x_c, g_c, kernels, k)
            grads_x += (grad_x,)
            grad_w = part if grad_w is None else grad_w + part
        grad_x = grads_x[0] if len(grads_x) == 1 else ops.cat(grads_x, 0)
        grad_x = ops.slice(grad_x.reshape(m, c_in, h, -1), (0, 0, 0, 0), (m, c_in, h, w))
        # (kb, groups, c_out / groups, ka, c_in) -> (groups * c_out / groups, c_in, ka, kb)
        grad_w = grad_w.reshape(k, self.groups, per_group, k, c_in)
        grad_w = ops.transpose(grad_w, (1, 2, 4, 3, 0)).reshape(c_out, c_in, k, k)
        return ops.cast(grad_x, x_dtype), ops.cast(grad_w, weight_dtype)
