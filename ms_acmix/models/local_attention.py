"""ACmix's local window attention without the unfolded tensors ("fast" attn_impl), the twin in
result of ``torch_ref.models.local_attention``.

The queries are cut into t x t tiles; each tile attends to the halo of padded keys its windows
cover, (s (t - 1) + d (k - 1) + 1)^2 positions, gathered once, through batched matmuls, with the
keys outside each query's own k x k window masked to -inf (their softmax weight is exactly 0).
On MindSpore's CPU kernels this beats accumulating over the k^2 offsets, whose strided slices
and broadcasts run several times slower than dense ops and matmuls (docs/benchmarks.md).

Forward ops: Mul, Tile, Concat, Reshape, Transpose, Gather, BatchMatMul, Cast, ExpandDims, Add,
Softmax, StridedSlice (all exported to ONNX as they are). ``bprop`` is hand written: the softmax
backward folds its row sum into a matmul (``sum_j a_j (do . v_j) = do . out``), and key/value
gradients go back to the padded maps by one segment sum each; autodiff would run the slow
SoftmaxGrad (and MindSpore 2.10's CPU SoftmaxGrad corrupts later gradients after a length-1
softmax, which k_att = 1 on a 1x1 map gives).

ACmix passes the reference's window-constant logit ``q . pe_centre`` as one more channel of q
against a channel of ones in kp: softmax cancels it, but its gradient cancels the float roundoff
of the pe gradient as in the reference (without it, the conv_p bias gradient, zero by
cancellation, carries several times the roundoff).
"""
import numpy as np
from mindspore import Tensor, nn, ops
from mindspore.ops import constexpr

TILE_SIDES = (4, 5, 6, 7, 8)


def halo_side(tile: int, k_att: int, dilation: int, stride: int) -> int:
    return stride * (tile - 1) + dilation * (k_att - 1) + 1


def tile_side(h_out: int, w_out: int, k_att: int, dilation: int, stride: int,
              channels: int) -> int:
    """The tile minimising logit work plus halo copies (a cost model measured on CPU)."""
    def cost(t):
        tiles = -(-h_out // t) * -(-w_out // t)
        halo = halo_side(t, k_att, dilation, stride) ** 2
        return tiles * halo * (t * t + 2 * channels)
    sides = [t for t in TILE_SIDES if t <= max(h_out, w_out)] or [max(h_out, w_out)]
    return min(sides, key=cost)


def halo_indices(h_out: int, w_out: int, hp: int, wp: int, tile: int, halo: int,
                 stride: int) -> Tensor:
    """(tiles * halo^2,) flat padded-map indices of each tile's halo, row-major; positions past
    the map (read only by padding queries or masked out) are clamped into it."""
    nty, ntx = -(-h_out // tile), -(-w_out // tile)
    rows = np.minimum(np.arange(nty).reshape(nty, 1) * (tile * stride)
                      + np.arange(halo).reshape(1, halo), hp - 1)
    cols = np.minimum(np.arange(ntx).reshape(ntx, 1) * (tile * stride)
                      + np.arange(halo).reshape(1, halo), wp - 1)
    flat = rows.reshape(nty, 1, halo, 1) * wp + cols.reshape(1, ntx, 1, halo)
    return Tensor(flat.reshape(-1).astype(np.int32))


def window_mask(tile: int, halo: int, k_att: int, dilation: int, stride: int) -> Tensor:
    """(tile^2, halo^2): 0 where the halo position is in the query's window, else -inf."""
    rel = np.arange(halo).reshape(1, halo) - stride * np.arange(tile).reshape(tile, 1)
    inside = (rel >= 0) & (rel % dilation == 0) & (rel <= dilation * (k_att - 1))
    both = inside.reshape(tile, 1, halo, 1) & inside.reshape(1, tile, 1, halo)
    mask = np.where(both.reshape(tile * tile, halo * halo), 0.0, -np.inf)
    return Tensor(mask.astype(np.float32))


@constexpr
def tiling_plan(h_out: int, w_out: int, k_att: int, dilation: int, stride: int,
                channels: int) -> tuple[int, int]:
    """(tile side, halo side)."""
    tile = tile_side(h_out, w_out, k_att, dilation, stride, channels)
    return tile, halo_side(tile, k_att, dilation, stride)


class LocalAttention(nn.Cell):
    """softmax_j(q . kp_j) weighted sum of vp_j over each query's k_att^2 window positions.

    Inputs: q (n, c, h_out, w_out) scaled and subsampled queries; kp (n, c, hp, wp) reflection
    padded keys minus padded positions; vp (n, c, hp, wp) reflection padded values. Returns
    (output (n, c, h_out, w_out), tiled attention weights, tiled output); the last two are
    for ``bprop``, which takes no gradient through them.

    Args:
        k_att: attention window (odd).
        dilation: dilation of the window.
        stride: stride of the queries over the padded maps.
    """

    def __init__(self, k_att: int, dilation: int, stride: int):
        super().__init__()
        self.k_att, self.dilation, self.stride = k_att, dilation, stride
        # Export: the mask is broadcast, not tiled to the batch (a batch-sized constant).
        self.exportable_ops = False
        self.matmul_tb = ops.BatchMatMul(transpose_b=True)
        self.matmul_ta = ops.BatchMatMul(transpose_a=True)
        # A bprop may not build primitives (as ops.gather does); IndexAdd has no CPU GRAPH kernel.
        self.gather = ops.Gather()
        self.tile = ops.Tile()
        self.segment_sum = ops.UnsortedSegmentSum()

    def _plan(self, q: Tensor, kp: Tensor):
        h_out, w_out, hp, wp = q.shape[2], q.shape[3], kp.shape[2], kp.shape[3]
        tile, halo = tiling_plan(h_out, w_out, self.k_att, self.dilation, self.stride,
                                 q.shape[1])
        index = halo_indices(h_out, w_out, hp, wp, tile, halo, self.stride)
        return tile, halo, index, window_mask(tile, halo, self.k_att, self.dilation, self.stride)

    def _to_tiles(self, x: Tensor, tile: int) -> Tensor:
        """(n, c, h, w) -> (n * tiles, tile^2, c), zero padded to whole tiles."""
        n, c, h, w = x.shape
        nty, ntx = -(-h // tile), -(-w // tile)
        # Zeros by Concat (the ONNX exporter has no PadV3), made from x so that no constant
        # depends on the batch (the exported graph is made batch-generic): exact for finite x.
        if ntx * tile > w:
            x = ops.cat((x, self.tile(x[:, :, :, :1] * 0.0, (1, 1, 1, ntx * tile - w))), 3)
        if nty * tile > h:
            x = ops.cat((x, self.tile(x[:, :, :1] * 0.0, (1, 1, nty * tile - h, 1))), 2)
        x = ops.transpose(x.reshape(n, c, nty, tile, ntx, tile), (0, 2, 4, 3, 5, 1))
        return x.reshape(n * nty * ntx, tile * tile, c)

    @staticmethod
    def _from_tiles(x: Tensor, n: int, h: int, w: int, tile: int) -> Tensor:
        """The inverse of ``_to_tiles``, cropped to (n, c, h, w)."""
        c = x.shape[2]
        nty, ntx = -(-h // tile), -(-w // tile)
        x = ops.transpose(x.reshape(n, nty, ntx, tile, tile, c), (0, 5, 1, 3, 2, 4))
        return x.reshape(n, c, nty * tile, ntx * tile)[:, :, :h, :w]

    def _halos(self, x: Tensor, index: Tensor, halo: int, key_major: bool) -> Tensor:
        """(n, c, hp, wp) -> (n * tiles, c, halo^2), or (n * tiles, halo^2, c) if key_major."""
        n, c = x.shape[0], x.shape[1]
        tiles = index.shape[0] // (halo * halo)
        x = self.gather(x.reshape(n, c, x.shape[2] * x.shape[3]), index, 2)
        x = x.reshape(n, c, tiles, halo * halo)
        if key_major:
            return ops.transpose(x, (0, 2, 3, 1)).reshape(n * tiles, halo * halo, c)
        return ops.transpose(x, (0, 2, 1, 3)).reshape(n * tiles, c, halo * halo)

    def _scatter_halos(self, g: Tensor, index: Tensor, like: Tensor, key_major: bool) -> Tensor:
        """The adjoint of ``_halos``: halo gradients summed back into the padded map."""
        n, c, hp, wp = like.shape
        g = g.reshape(n, g.shape[0] // n, g.shape[1], g.shape[2])
        if key_major:
            g = ops.transpose(g, (1, 2, 0, 3))
        else:
            g = ops.transpose(g, (1, 3, 0, 2))
        summed = self.segment_sum(g.reshape(index.shape[0], n * c), index, hp * wp)
        return ops.transpose(summed, (1, 0)).reshape(n, c, hp, wp)

    def construct(self, q: Tensor, kp: Tensor, vp: Tensor):
        tile, halo, index, mask = self._plan(q, kp)
        q_t = self._to_tiles(q, tile)
        logits = ops.matmul(q_t, self._halos(kp, index, halo, False))
        mask = mask.astype(q.dtype).expand_dims(0)
        if self.exportable_ops:
            logits = logits + mask
        else:  # a same-shape Add runs ~8x faster than a broadcast one on MindSpore's CPU
            logits = logits + self.tile(mask, (q_t.shape[0], 1, 1))
        att = ops.softmax(logits, -1)
        out_t = ops.matmul(att, self._halos(vp, index, halo, True))
        return self._from_tiles(out_t, q.shape[0], q.shape[2], q.shape[3], tile), att, out_t

    def bprop(self, q, kp, vp, out, dout):
        _, att, out_t = out
        tile, halo, index, _ = self._plan(q, kp)
        grad_t = self._to_tiles(dout[0], tile)
        row_sum = (grad_t * out_t).sum(2, keepdims=True)
        v_t = self._halos(vp, index, halo, True)
        ones = ops.ones((v_t.shape[0], v_t.shape[1], 1), v_t.dtype)
        grad_logits = att * self.matmul_tb(ops.cat([grad_t, -row_sum], 2),
                                           ops.cat([v_t, ones], 2))
        k_t = self._halos(kp, index, halo, False)
        grad_q = self.matmul_tb(grad_logits, k_t)
        grad_k = self.matmul_ta(self._to_tiles(q, tile), grad_logits)
        grad_v = self.matmul_ta(att, grad_t)
        n, h_out, w_out = q.shape[0], q.shape[2], q.shape[3]
        # Each gradient in its input's dtype (under mixed precision, the cell's cast may sit
        # between them and the forward's dtype).
        return (ops.cast(self._from_tiles(grad_q, n, h_out, w_out, tile), q.dtype),
                ops.cast(self._scatter_halos(grad_k, index, kp, False), kp.dtype),
                ops.cast(self._scatter_halos(grad_v, index, vp, True), vp.dtype))
