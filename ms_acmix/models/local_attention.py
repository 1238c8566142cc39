"""ACmix's local window attention without the unfolded tensors ("fast" attn_impl), the twin in
result of ``torch_ref.models.local_attention``.

The queries are cut into t x t tiles; each tile attends to the halo of reflection-padded keys
its windows cover, (s (t - 1) + d (k - 1) + 1)^2 positions, through batched matmuls, with the
keys outside each query's own k x k window masked to -inf (their softmax weight is exactly 0).

What it keeps out of memory, measured on MindSpore 2.10's CPU kernels (docs/benchmarks.md):

- No Transpose and no broadcasting elementwise op on a large tensor: both kernels build an
  8-byte index per element when the graph is built and keep it for the graph's life. Layouts
  change instead by a batched matmul with an identity (exact: one product by 1, the rest by
  0) and by Gathers with constant flat indices, which also apply the reflection padding and
  the query stride (nothing padded or subsampled is materialised).
- Channels-last tiles: every Gather and UnsortedSegmentSum moves c contiguous values per
  index, where channels-first tiles would move one.
- Nothing logit-sized is kept for the backward: ``bprop`` recomputes the logits and softmax
  (flash-attention style; ``out`` gives the softmax row sums ``sum_j a_j (do . v_j) =
  do . out``), and both passes run over chunks of the batch one after the other
  (``ops.depend``), so that at most one chunk's logits are alive.

Ops: BatchMatMul, Gather, Tile, Add, Softmax, Mul, ReduceSum, Concat, Slice, Reshape,
UnsortedSegmentSum (backward). With ``exportable_ops`` (ONNX export, batch-generic graph) one
chunk, explicit transposes and a broadcast mask: no constant depends on the batch.

ACmix passes the reference's window-constant logit ``q . pe_centre`` as one more channel of q
against a channel of ones in k: softmax cancels it, but its gradient cancels the float roundoff
of the pe gradient as in the reference (without it, the conv_p bias gradient, zero by
cancellation, carries several times the roundoff).
"""
import numpy as np
from mindspore import Tensor, nn, ops
from mindspore.ops import constexpr

from acmix_common.checks import attention_pad

TILE_SIDES = (4, 5, 6, 7, 8)
# Logits of one chunk of the batch (float32 bytes); the batch is cut into equal chunks below it.
CHUNK_BYTES = 32 * 2 ** 20


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


def chunk_size(n: int, per_sample_bytes: int) -> int:
    """The largest divisor of n whose chunk of logits fits ``CHUNK_BYTES`` (at least 1)."""
    fits = [d for d in range(1, n + 1) if n % d == 0 and d * per_sample_bytes <= CHUNK_BYTES]
    return max(fits, default=1)


@constexpr
def tiling_plan(n: int, h: int, w: int, k_att: int, dilation: int, stride: int, channels: int,
                one_chunk: bool) -> tuple:
    """(tile side, halo side, output height, output width, chunk of the batch)."""
    h_out, w_out = -(-h // stride), -(-w // stride)
    tile = tile_side(h_out, w_out, k_att, dilation, stride, channels)
    halo = halo_side(tile, k_att, dilation, stride)
    tiles = -(-h_out // tile) * -(-w_out // tile)
    chunk = n if one_chunk else chunk_size(n, tiles * tile * tile * halo * halo * 4)
    return tile, halo, h_out, w_out, chunk


def _tile_queries(h_out: int, w_out: int, tile: int):
    """(rows, cols, inside) of every tile slot, (tiles, tile^2) in tile-major order."""
    nty, ntx = -(-h_out // tile), -(-w_out // tile)
    ty, tx, qy, qx = np.indices((nty, ntx, tile, tile))
    rows = (ty * tile + qy).reshape(nty * ntx, tile * tile)
    cols = (tx * tile + qx).reshape(nty * ntx, tile * tile)
    return rows, cols, (rows < h_out) & (cols < w_out)


def _reflect(index: np.ndarray, size: int) -> np.ndarray:
    """torch's 'reflect' padding (edge not repeated) of an index in [-(size - 1), 2 size - 2]."""
    index = np.abs(index)
    return np.where(index > size - 1, 2 * (size - 1) - index, index)


def query_indices(h: int, w: int, h_out: int, w_out: int, tile: int, stride: int) -> Tensor:
    """(tiles * tile^2,) positions in the (h, w) map of each tile slot's query (row-major,
    stride applied); slots past the output read a real query (their results are dropped)."""
    rows, cols, _ = _tile_queries(h_out, w_out, tile)
    rows = np.minimum(rows, h_out - 1) * stride
    cols = np.minimum(cols, w_out - 1) * stride
    return Tensor((rows * w + cols).reshape(-1).astype(np.int32))


def _halo_flat(h: int, w: int, h_out: int, w_out: int, tile: int, halo: int, pad: int,
               stride: int) -> np.ndarray:
    nty, ntx = -(-h_out // tile), -(-w_out // tile)
    rows = np.arange(nty).reshape(nty, 1) * (tile * stride) + np.arange(halo).reshape(1, halo)
    cols = np.arange(ntx).reshape(ntx, 1) * (tile * stride) + np.arange(halo).reshape(1, halo)
    rows = _reflect(np.minimum(rows, h + 2 * pad - 1) - pad, h)
    cols = _reflect(np.minimum(cols, w + 2 * pad - 1) - pad, w)
    return (rows.reshape(nty, 1, halo, 1) * w + cols.reshape(1, ntx, 1, halo)).reshape(-1)


def halo_indices(h: int, w: int, h_out: int, w_out: int, tile: int, halo: int, pad: int,
                 stride: int) -> Tensor:
    """(tiles * halo^2,) positions in the unpadded (h, w) map of each tile's halo of the
    reflection-padded map, row-major; halo positions past the padded map (read only by
    padding queries or masked out) are clamped into it."""
    return Tensor(_halo_flat(h, w, h_out, w_out, tile, halo, pad, stride).astype(np.int32))


def halo_segments(n: int, h: int, w: int, h_out: int, w_out: int, tile: int, halo: int,
                  pad: int, stride: int) -> Tensor:
    """(n, tiles * halo^2): ``halo_indices`` of each sample offset into the (n * h * w) map,
    the segments of ``UnsortedSegmentSum`` (its adjoint)."""
    flat = _halo_flat(h, w, h_out, w_out, tile, halo, pad, stride).reshape(1, -1)
    return Tensor((np.arange(n).reshape(n, 1) * (h * w) + flat).astype(np.int32))


def output_indices(h_out: int, w_out: int, tile: int) -> Tensor:
    """(h_out * w_out,) the tile slot of every output position, row-major."""
    nty, ntx = -(-h_out // tile), -(-w_out // tile)
    y, x = np.indices((h_out, w_out))
    slot = ((y // tile) * ntx + x // tile) * tile * tile + (y % tile) * tile + x % tile
    return Tensor(slot.reshape(-1).astype(np.int32))


def grad_query_indices(h: int, w: int, h_out: int, w_out: int, tile: int,
                       stride: int) -> Tensor:
    """(h * w,) the tile slot of every map position that is a query, else the slot past the
    last (a zero row): the adjoint of ``query_indices`` on the real queries."""
    nty, ntx = -(-h_out // tile), -(-w_out // tile)
    y, x = np.indices((h, w))
    oy, ox = y // stride, x // stride
    slot = ((oy // tile) * ntx + ox // tile) * tile * tile + (oy % tile) * tile + ox % tile
    query = (y % stride == 0) & (x % stride == 0)
    return Tensor(np.where(query, slot, nty * ntx * tile * tile).reshape(-1).astype(np.int32))


def grad_output_indices(h_out: int, w_out: int, tile: int) -> Tensor:
    """(tiles * tile^2,) the output position of each tile slot, or h_out * w_out (a zero row)
    for slots past the output: their gradient must be zero."""
    rows, cols, inside = _tile_queries(h_out, w_out, tile)
    flat = np.where(inside, rows * w_out + cols, h_out * w_out)
    return Tensor(flat.reshape(-1).astype(np.int32))


def window_mask(tile: int, halo: int, k_att: int, dilation: int, stride: int) -> Tensor:
    """(tile^2, halo^2): 0 where the halo position is in the query's window, else -inf."""
    rel = np.arange(halo).reshape(1, halo) - stride * np.arange(tile).reshape(tile, 1)
    inside = (rel >= 0) & (rel % dilation == 0) & (rel <= dilation * (k_att - 1))
    both = inside.reshape(tile, 1, halo, 1) & inside.reshape(1, tile, 1, halo)
    mask = np.where(both.reshape(tile * tile, halo * halo), 0.0, -np.inf)
    return Tensor(mask.astype(np.float32))


def identity(n: int, rows: int, cols: int) -> Tensor:
    """(n, rows, cols) float32 identities (the first ``cols`` of ``rows`` channels)."""
    return Tensor(np.tile(np.eye(rows, cols, dtype=np.float32), (n, 1, 1)))


_MATMUL_TA = ops.BatchMatMul(transpose_a=True)
_MATMUL_TB = ops.BatchMatMul(transpose_b=True)


def channels_last(x: Tensor, exportable: bool = False) -> Tensor:
    """(n, c, h, w) -> (n, h, w, c) as a matmul with the identity (exact: one product by 1,
    the rest by 0; a Transpose keeps an 8-byte index per element on MindSpore's CPU), or a
    transpose when exporting (no batch-sized constant)."""
    n, c, h, w = x.shape
    if exportable:
        return ops.transpose(x, (0, 2, 3, 1))
    return _MATMUL_TA(x.reshape(n, c, h * w), identity(n, c, c).astype(x.dtype)).reshape(
        n, h, w, c)


def channels_first(x: Tensor, exportable: bool = False) -> Tensor:
    """The inverse of ``channels_last``."""
    n, h, w, c = x.shape
    if exportable:
        return ops.transpose(x, (0, 3, 1, 2))
    return _MATMUL_TB(identity(n, c, c).astype(x.dtype), x.reshape(n, h * w, c)).reshape(
        n, c, h, w)


class LocalAttention(nn.Cell):
    """softmax_j(q . k_j) weighted sum of v_j over each query's k_att^2 window positions of
    the reflection-padded k and v, channels last.

    Inputs: q (n, h, w, c) scaled queries (every position; the stride picks them); k (n, h, w,
    c) keys minus positions; v (n, h, w, cv) values. Returns (n, ceil(h / stride),
    ceil(w / stride), cv).

    Args:
        k_att: attention window (odd).
        dilation: dilation of the window.
        stride: stride of the queries.
    """

    def __init__(self, k_att: int, dilation: int, stride: int):
        super().__init__()
        self.k_att, self.dilation, self.stride = k_att, dilation, stride
        self.pad = attention_pad(k_att, dilation)
        # Export: one chunk, explicit transposes, a broadcast mask (no batch-sized constant).
        self.exportable_ops = False
        self.matmul = ops.BatchMatMul()
        self.matmul_ta = ops.BatchMatMul(transpose_a=True)
        self.matmul_tb = ops.BatchMatMul(transpose_b=True)
        # A bprop may not build primitives (as ops.gather does); IndexAdd has no CPU GRAPH kernel.
        self.gather = ops.Gather()
        self.tile = ops.Tile()
        self.segment_sum = ops.UnsortedSegmentSum()

    def _plan(self, q: Tensor):
        return tiling_plan(q.shape[0], q.shape[1], q.shape[2], self.k_att, self.dilation,
                           self.stride, q.shape[3], self.exportable_ops)

    def _mask(self, tile: int, halo: int, rows: int, dtype) -> Tensor:
        mask = window_mask(tile, halo, self.k_att, self.dilation, self.stride)
        mask = mask.astype(dtype).expand_dims(0)
        if self.exportable_ops:
            return mask
        # A same-shape Add: a broadcasting one runs ~8x slower on MindSpore's CPU and keeps an
        # index per element.
        return self.tile(mask, (rows, 1, 1))

    def _weights(self, q: Tensor, k: Tensor, q_index, halo_index, mask, tile: int,
                 halo: int):
        """Tiled queries (N, t^2, c), keys (N, halo^2, c) and softmax weights (N, t^2, halo^2)
        of one chunk, (m, h * w, c) maps."""
        c = q.shape[2]
        q_t = self.gather(q, q_index, 1).reshape(-1, tile * tile, c)
        k_t = self.gather(k, halo_index, 1).reshape(-1, halo * halo, c)
        if self.exportable_ops:
            logits = ops.matmul(q_t, ops.transpose(k_t, (0, 2, 1)))
        else:
            logits = self.matmul_tb(q_t, k_t)
        return q_t, k_t, ops.softmax(logits + mask, -1)

    @staticmethod
    def _flat(x: Tensor) -> Tensor:
        """(n, h, w, c) -> (n, h * w, c): the rows the gathers index."""
        return x.reshape(x.shape[0], x.shape[1] * x.shape[2], x.shape[3])

    @staticmethod
    def _chunk(x: Tensor, i: int, chunk: int) -> Tensor:
        """Samples [i * chunk, (i + 1) * chunk) of x (n, p, c)."""
        if chunk == x.shape[0]:
            return x
        return ops.slice(x, (i * chunk, 0, 0), (chunk, x.shape[1], x.shape[2]))

    def construct(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        n, h, w, c = q.shape
        cv = v.shape[3]
        tile, halo, h_out, w_out, chunk = self._plan(q)
        q_index = query_indices(h, w, h_out, w_out, tile, self.stride)
        halo_index = halo_indices(h, w, h_out, w_out, tile, halo, self.pad, self.stride)
        out_index = output_indices(h_out, w_out, tile)
        tiles = halo_index.shape[0] // (halo * halo)
        mask = self._mask(tile, halo, chunk * tiles, q.dtype)
        q, k, v = self._flat(q), self._flat(k), self._flat(v)
        outs = ()
        for i in range(n // chunk):
            q_c, k_c, v_c = self._chunk(q, i, chunk), self._chunk(k, i, chunk), \
                self._chunk(v, i, chunk)
            if i:  # one chunk after the other: one chunk's logits alive at a time
                q_c, k_c, v_c = (ops.depend(q_c, outs[-1]), ops.depend(k_c, outs[-1]),
                                 ops.depend(v_c, outs[-1]))
            _, _, att = self._weights(q_c, k_c, q_index, halo_index, mask, tile, halo)
            v_t = self.gather(v_c, halo_index, 1).reshape(-1, halo * halo, cv)
            out = ops.matmul(att, v_t).reshape(chunk, tiles * tile * tile, cv)
            outs += (self.gather(out, out_index, 1),)
        out = outs[0] if len(outs) == 1 else ops.cat(outs, 0)
        return out.reshape(n, h_out, w_out, cv)

    def bprop(self, q, k, v, out, dout):
        n, h, w, c = q.shape
        cv = v.shape[3]
        tile, halo, h_out, w_out, chunk = self._plan(q)
        q_index = query_indices(h, w, h_out, w_out, tile, self.stride)
        halo_index = halo_indices(h, w, h_out, w_out, tile, halo, self.pad, self.stride)
        grad_q_index = grad_query_indices(h, w, h_out, w_out, tile, self.stride)
        grad_out_index = grad_output_indices(h_out, w_out, tile)
        segments = halo_segments(chunk, h, w, h_out, w_out, tile, halo, self.pad, self.stride)
        tiles = halo_index.shape[0] // (halo * halo)
        # Under mixed precision the inputs given here may be the ones before the cell cast
        # them: compute in the output's dtype, return each gradient in its input's dtype.
        dtype, dtypes = dout.dtype, (q.dtype, k.dtype, v.dtype)
        if q.dtype != dtype:
            q, k, v = ops.cast(q, dtype), ops.cast(k, dtype), ops.cast(v, dtype)
        mask = self._mask(tile, halo, chunk * tiles, dtype)
        q, k = q.reshape(n, h * w, c), k.reshape(n, h * w, c)
        # The softmax row sums sum_j a_j (do . v_j) = do . out ride as one more channel of do
        # against a channel of ones in v, folded into the same matmul.
        ones = ops.ones((n, h * w, 1), dtype)
        v = ops.cat((v.reshape(n, h * w, cv), ones), 2)
        row_sum = (dout * out).sum(3, keepdims=True)
        grads = ops.cat((dout, -row_sum), 3).reshape(n, h_out * w_out, cv + 1)
        if h_out % tile or w_out % tile:  # slots past the output read a zero row
            grads = ops.cat((grads, ops.zeros((n, 1, cv + 1), dtype)), 1)
        strided = self.stride > 1  # positions that are no query: a zero row of the q gradient
        grads_q, grads_k, grads_v = (), (), ()
        for i in range(n // chunk):
            q_c, k_c = self._chunk(q, i, chunk), self._chunk(k, i, chunk)
            v_c, g_c = self._chunk(v, i, chunk), self._chunk(grads, i, chunk)
            if i:  # after the whole previous chunk
                done = ops.depend(ops.depend(grads_q[-1], grads_k[-1]), grads_v[-1])
                q_c, k_c, v_c, g_c = (ops.depend(q_c, done), ops.depend(k_c, done),
                                      ops.depend(v_c, done), ops.depend(g_c, done))
            q_t, k_t, att = self._weights(q_c, k_c, q_index, halo_index, mask, tile, halo)
            g_t = self.gather(g_c, grad_out_index, 1).reshape(-1, tile * tile, cv + 1)
            v_t = self.gather(v_c, halo_index, 1).reshape(-1, halo * halo, cv + 1)
            grad_logits = att * self.matmul_tb(g_t, v_t)
            grad_q = self.matmul(grad_logits, k_t).reshape(chunk, tiles * tile * tile, c)
            if strided:
                grad_q = ops.cat((grad_q, ops.zeros((chunk, 1, c), dtype)), 1)
            grads_q += (self.gather(grad_q, grad_q_index, 1),)
            grad_k = self.matmul_ta(grad_logits, q_t).reshape(chunk, -1, c)
            grads_k += (self.segment_sum(grad_k, segments, chunk * h * w),)
            grad_v = self.matmul_ta(att, g_t).reshape(chunk, -1, cv + 1)
            grads_v += (self.segment_sum(grad_v, segments, chunk * h * w),)
        if len(grads_q) == 1:
            grad_q, grad_k, grad_v = grads_q[0], grads_k[0], grads_v[0]
        else:
            grad_q, grad_k, grad_v = ops.cat(grads_q, 0), ops.cat(grads_k, 0), ops.cat(grads_v, 0)
        grad_v = grad_v.reshape(n, h, w, cv + 1)
        return (ops.cast(grad_q.reshape(n, h, w, c), dtypes[0]),
                ops.cast(grad_k.reshape(n, h, w, c), dtypes[1]),
                ops.cast(ops.slice(grad_v, (0, 0, 0, 0), (n, h, w, cv)), dtypes[2]))
