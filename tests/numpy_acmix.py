"""A naive numpy ACmix written from the paper's and the official code's semantics, loop by loop.

An oracle independent of both frameworks' unfold/pad/grouped-conv kernels: it indexes every
window position explicitly (reflection by index arithmetic, grouped conv as a sum over taps).
"""
import numpy as np


def _conv1x1(x, w, b=None):
    y = np.einsum("oc,nchw->nohw", w[:, :, 0, 0], x)
    return y if b is None else y + b[None, :, None, None]


def _reflect(idx, size):
    idx = np.where(idx < 0, -idx, idx)
    return np.where(idx >= size, 2 * (size - 1) - idx, idx)


def acmix_forward(p: dict, x: np.ndarray, k_att: int, head: int, k_conv: int, stride: int,
                  dilation: int) -> np.ndarray:
    x = x.astype(np.float64)
    p = {k: v.astype(np.float64) for k, v in p.items()}
    n, _, h, w = x.shape
    q, k, v = (_conv1x1(x, p[f"conv{i}.weight"], p[f"conv{i}.bias"]) for i in (1, 2, 3))
    out_planes = q.shape[1]
    hd = out_planes // head
    grid = np.stack([np.broadcast_to(np.linspace(-1, 1, w)[None, :], (h, w)),
                     np.broadcast_to(np.linspace(-1, 1, h)[:, None], (h, w))])[None]
    pe = _conv1x1(grid, p["conv_p.weight"], p["conv_p.bias"])[0]  # (hd, h, w)
    qh, kh, vh = (t.reshape(n, head, hd, h, w) for t in (q, k, v))
    ho, wo = -(-h // stride), -(-w // stride)
    ys, xs = np.arange(ho) * stride, np.arange(wo) * stride
    pad = (dilation * (k_att - 1) + 1) // 2
    q_c = qh[:, :, :, ys][:, :, :, :, xs] * hd ** -0.5  # (n, head, hd, ho, wo)
    pe_c = pe[:, ys][:, :, xs]
    logits, values = [], []
    for a in range(k_att):
        for b in range(k_att):
            yy = _reflect(ys - pad + a * dilation, h)
            xx = _reflect(xs - pad + b * dilation, w)
            k_j = kh[:, :, :, yy][:, :, :, :, xx]
            pe_j = pe[:, yy][:, :, xx]
            logits.append((q_c * (k_j + pe_c - pe_j)).sum(2))
            values.append(vh[:, :, :, yy][:, :, :, :, xx])
    logits = np.stack(logits, 2)  # (n, head, k^2, ho, wo)
    att = np.exp(logits - logits.max(2, keepdims=True))
    att /= att.sum(2, keepdims=True)
    out_att = (att[:, :, None] * np.stack(values, 3)).sum(3).reshape(n, out_planes, ho, wo)

    cat = np.concatenate([t.reshape(n, head, hd, h * w) for t in (q, k, v)], 1)
    f_all = np.einsum("kj,njcp->nkcp", p["fc.weight"][:, :, 0, 0], cat)  # (n, k^2, hd, hw)
    f_conv = f_all.transpose(0, 2, 1, 3).reshape(n, hd * k_conv ** 2, h, w)
    c = k_conv // 2
    f_pad = np.pad(f_conv, ((0, 0), (0, 0), (c, c), (c, c)))
    wdep = p["dep_conv.weight"]  # (out, k^2, k, k)
    out_conv = np.zeros((n, out_planes, ho, wo))
    per_group = out_planes // hd
    for o in range(out_planes):
        g = o // per_group
        for a in range(k_conv):
            for b in range(k_conv):
                taps = f_pad[:, g * k_conv ** 2:(g + 1) * k_conv ** 2, a + ys][:, :, :, b + xs]
                out_conv[:, o] += np.einsum("j,njyx->nyx", wdep[o, :, a, b], taps)
    return p["rate1"] * out_att + p["rate2"] * out_conv
