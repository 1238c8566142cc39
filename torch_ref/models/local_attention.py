"""ACmix's local window attention without the unfolded tensors ("fast" attn_impl).

The reference formulation unfolds k, v and the position map into k_att^2 copies each. Here the
logits and the output are accumulated over the k_att^2 offsets of the padded maps, two passes
(logits, then softmax and values), so the working set is the padded maps plus one
(n, k_att^2, h_out, w_out) logit tensor. The backward is written by hand and accumulates each
offset's gradient into one padded buffer per input by in-place slice adds.

The logit of window offset j is ``q . (k_j - pe_j) + centre`` with ``centre = q . pe_centre``,
as in the reference. The centre term is the same for every offset, so softmax cancels it and its
gradient is zero; it is kept because that zero cancels the float roundoff of the pe gradient
(without it, the zero-by-cancellation conv_p bias gradient carries several times the roundoff).
"""
import torch


def offset_slices(k_att: int, dilation: int, stride: int, h_out: int,
                  w_out: int) -> list[tuple[slice, slice]]:
    """The (rows, cols) slice of the padded map that offset j reads, j in unfold order."""
    rows = [slice(a * dilation, a * dilation + stride * (h_out - 1) + 1, stride)
            for a in range(k_att)]
    cols = [slice(b * dilation, b * dilation + stride * (w_out - 1) + 1, stride)
            for b in range(k_att)]
    return [(r, c) for r in rows for c in cols]


def _attend(q: torch.Tensor, kp: torch.Tensor, vp: torch.Tensor, centre: torch.Tensor,
            k_att: int, dilation: int, stride: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(output, attention weights), written into preallocated tensors offset by offset."""
    n, _, h_out, w_out = q.shape
    windows = offset_slices(k_att, dilation, stride, h_out, w_out)
    logits = q.new_empty((n, len(windows), h_out, w_out))
    for j, (r, cc) in enumerate(windows):
        torch.sum(q * kp[:, :, r, cc], 1, out=logits[:, j])
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
        ctx.windows = offset_slices(k_att, dilation, stride, q.shape[2], q.shape[3])
        return out

    @staticmethod
    def backward(ctx, grad_out):
        q, kp, vp, att, out = ctx.saved_tensors
        windows = ctx.windows
        grad_out = grad_out.contiguous()
        grad_att = torch.empty_like(att)
        grad_vp = torch.zeros_like(vp)
        for j, (r, cc) in enumerate(windows):
            torch.sum(grad_out * vp[:, :, r, cc], 1, out=grad_att[:, j])
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


def local_attention(q: torch.Tensor, kp: torch.Tensor, vp: torch.Tensor, centre: torch.Tensor,
                    k_att: int, dilation: int, stride: int) -> torch.Tensor:
    """softmax_j(q . kp_j + centre) weighted sum of vp_j over the k_att^2 window offsets j.

    Args:
        q: (n, c, h_out, w_out), scaled and subsampled queries.
        kp: (n, c, hp, wp), reflection-padded keys minus padded positions.
        vp: (n, c, hp, wp), reflection-padded values.
        centre: (n, 1, h_out, w_out), the window-constant logit q . pe_centre.

    The hand-differentiated kernel when a gradient is needed, else its forward alone.
    """
    args = (q, kp, vp, centre, k_att, dilation, stride)
    if torch.is_grad_enabled() and any(t.requires_grad for t in args[:4]):
        return _LocalAttention.apply(*args)
    return _attend(*args)[0]
