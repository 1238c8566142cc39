"""ACmix's local window attention without the unfolded tensors ("fast" attn_impl).

One function, ``local_attention``, with one path per backend (``backend`` says which a call
takes); the reference formulation (the official unfold) is ``ACmix.forward_attention`` with
``attn_impl="unfold"``, and the tests hold both paths to it and to each other:

- "cpu-kernel": the compiled C kernel (``attention_kernel``, ``_csrc/local_attention.c``) for
  float32 and float64 CPU tensors: logits, softmax and weighted sum fused per query row; its
  backward gathers each key's gradient from the queries that see it.
- "torch": PyTorch ops for every other case (float16, bfloat16, other devices, tracing), when
  the kernel was not built, or when ``ACMIX_ATTN_KERNEL=0`` is set. The logits and the output
  are accumulated over window offsets or channels of the padded maps, so the working set is the
  padded maps plus one (n, k_att^2, h_out, w_out) logit tensor; the backward is written by hand
  and accumulates each offset's gradient into one padded buffer per input by slice adds.

The logit of window offset j is ``q . (k_j - pe_j) + centre`` with ``centre = q . pe_centre``,
as in the reference. The centre term is the same for every offset, so softmax cancels it and its
gradient is zero; it is kept because that zero cancels the float roundoff of the pe gradient
(without it, the zero-by-cancellation conv_p bias gradient carries several times the roundoff).
"""
from typing import Optional

import torch
import torch.nn.functional as F

from acmix_common.checks import attention_pad

from . import attention_kernel


def offset_slices(k_att: int, dilation: int, stride: int, h_out: int,
                  w_out: int) -> list[tuple[slice, slice]]:
    """The (rows, cols) slice of the padded map that offset j reads, j in unfold order."""
    rows = [slice(a * dilation, a * dilation + stride * (h_out - 1) + 1, stride)
            for a in range(k_att)]
    cols = [slice(b * dilation, b * dilation + stride * (w_out - 1) + 1, stride)
            for b in range(k_att)]
    return [(r, c) for r in rows for c in cols]


def _windows(plane: torch.Tensor, k_att: int, dilation: int, stride: int, h_out: int,
             w_out: int) -> torch.Tensor:
    """(n, k_att, k_att, h_out, w_out) view of one channel (n, hp, wp) of a padded map: element
    (a, b, y, x) is pixel (stride y + dilation a, stride x + dilation b)."""
    sn, sh, sw = plane.stride()
    return plane.as_strided((plane.shape[0], k_att, k_att, h_out, w_out),
                            (sn, dilation * sh, dilation * sw, stride * sh, stride * sw),
                            plane.storage_offset())


def _window_dots(a: torch.Tensor, padded: torch.Tensor, k_att: int, dilation: int,
                 stride: int) -> torch.Tensor:
    """(n, k_att^2, h_out, w_out): sum over channels of a (n, c, h_out, w_out) times the padded
    map at each window offset. Loops over channels (one window view each) or, when there are
    more channels than offsets, over offsets."""
    n, c, h_out, w_out = a.shape
    if c > k_att * k_att:
        out = a.new_empty((n, k_att * k_att, h_out, w_out))
        for j, (r, cc) in enumerate(offset_slices(k_att, dilation, stride, h_out, w_out)):
            torch.sum(a * padded[:, :, r, cc], 1, out=out[:, j])
        return out
    out = a.new_zeros((n, k_att, k_att, h_out, w_out))
    for ch in range(c):
        views = _windows(padded[:, ch], k_att, dilation, stride, h_out, w_out)
        out.addcmul_(views, a[:, ch, None, None])
    return out.view(n, k_att * k_att, h_out, w_out)


def _attend(q: torch.Tensor, kp: torch.Tensor, vp: torch.Tensor, centre: torch.Tensor,
            k_att: int, dilation: int, stride: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(output, attention weights) of the PyTorch path."""
    windows = offset_slices(k_att, dilation, stride, q.shape[2], q.shape[3])
    logits = _window_dots(q, kp, k_att, dilation, stride)
    logits += centre
    if k_att > 1:  # softmax in place: one logit-sized tensor, not two
        att = logits.sub_(logits.amax(1, keepdim=True)).exp_()
        att.div_(att.sum(1, keepdim=True))
    else:
        att = torch.ones_like(logits)
    out = torch.zeros_like(q)
    for j, (r, cc) in enumerate(windows):
        out.addcmul_(vp[:, :, r, cc], att[:, j:j + 1])
    return out, att


class _LocalAttention(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, kp, vp, centre, k_att: int, dilation: int, stride: int):
        out, att = _attend(q, kp, vp, centre, k_att, dilation, stride)
        ctx.save_for_backward(q, kp, vp, att, out)
        ctx.window = (k_att, dilation, stride)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        q, kp, vp, att, out = ctx.saved_tensors
        k_att, dilation, stride = ctx.window
        windows = offset_slices(k_att, dilation, stride, q.shape[2], q.shape[3])
        grad_out = grad_out.contiguous()
        grad_att = _window_dots(grad_out, vp, k_att, dilation, stride)
        grad_vp = torch.zeros_like(vp)
        for j, (r, cc) in enumerate(windows):
            grad_vp[:, :, r, cc].addcmul_(grad_out, att[:, j:j + 1])
        # sum_j a_j (do . v_j) = do . out: a value-sized product, not a logit-sized one
        row_sum = (grad_out * out).sum(1, keepdim=True)
        grad_logits = grad_att.sub_(row_sum).mul_(att)  # in place: memory is the point
        grad_q = torch.zeros_like(q)
        grad_kp = torch.zeros_like(kp)
        if len(windows) > 1:
            for j, (r, cc) in enumerate(windows):
                weight = grad_logits[:, j:j + 1]
                grad_q.addcmul_(kp[:, :, r, cc], weight)
                grad_kp[:, :, r, cc].addcmul_(q, weight)
        grad_centre = grad_logits.sum(1, keepdim=True)
        return grad_q, grad_kp, grad_vp, grad_centre, None, None, None


class _KernelAttention(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, centre, k_att: int, dilation: int, stride: int):
        q, k, v = q.contiguous(), k.contiguous(), v.contiguous()
        out, att = attention_kernel.forward(q, k, v, centre, k_att, dilation, stride, True)
        ctx.save_for_backward(q, k, v, att)
        ctx.window = (k_att, dilation, stride)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        q, k, v, att = ctx.saved_tensors
        grads = attention_kernel.backward(q, k, v, att, grad_out, *ctx.window)
        return grads + (None, None, None)


def backend(q: Optional[torch.Tensor] = None) -> str:
    """The path ``local_attention`` takes: "cpu-kernel" or "torch"; for queries like ``q`` (its
    dtype and device), by default for float32 CPU tensors."""
    q = torch.empty(0) if q is None else q
    return "cpu-kernel" if attention_kernel.supports(1, q) else "torch"


def local_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, centre: torch.Tensor,
                    k_att: int, dilation: int, stride: int) -> torch.Tensor:
    """softmax_j(q . k_j + centre) weighted sum of v_j over the k_att^2 window offsets j of the
    maps reflection-padded by ``attention_pad(k_att, dilation)``.

    Args:
        q: (n, c, h_out, w_out), scaled and subsampled queries; h_out = ceil(h / stride).
        k: (n, c, h, w), keys minus positions.
        v: (n, c, h, w), values.
        centre: (n, 1, h_out, w_out), the window-constant logit q . pe_centre.
        k_att, dilation, stride: the window; offset (a, b) of query (y, x) reads padded pixel
            (stride y + dilation a, stride x + dilation b).

    The compiled CPU kernel where it applies (``backend``; it pads as it reads), else the
    PyTorch path on padded maps; each differentiated by hand when a gradient is needed, else its
    forward alone.
    """
    grad = torch.is_grad_enabled() and any(t.requires_grad for t in (q, k, v, centre))
    if attention_kernel.supports(k_att, q, k, v, centre):
        if grad:
            return _KernelAttention.apply(q, k, v, centre, k_att, dilation, stride)
        return attention_kernel.forward(q, k, v, centre, k_att, dilation, stride, False)[0]
    p = attention_pad(k_att, dilation)
    kp, vp = (F.pad(t, (p, p, p, p), mode="reflect") for t in (k, v))
    if grad:
        return _LocalAttention.apply(q, kp, vp, centre, k_att, dilation, stride)
    return _attend(q, kp, vp, centre, k_att, dilation, stride)[0]
