"""The ACmix module (Pan et al., CVPR 2022) in PyTorch, with the official numerics and names.

State dict: rate1, rate2, conv1/conv2/conv3 (q, k, v), conv_p, fc (no bias), dep_conv.weight
(no bias). Beyond the official code: any odd k_conv (padding k_conv // 2), stride on odd sizes
(both paths give ceil(size / stride)), dilation of the attention window, and any float dtype.

``attn_impl="unfold"`` is the official formulation. ``"fast"`` (the default) runs
``local_attention`` (a compiled CPU kernel for float32/float64 where built, else offset
accumulation in PyTorch; both with hand-written backwards), the q/k/v projections as one 1x1
convolution and fc + dep_conv as one grouped convolution, and agrees with it within float
roundoff; traced for export (``torch.export``, ``torch.onnx.export(dynamo=True)``) it takes the
official formulation, whose graph is compact (the offset loop would be k_att^2 slices a block).
"""
import torch
import torch.nn.functional as F
from torch import nn

from acmix_common.checks import (attention_pad, check_acmix_args, check_acmix_input,
                                 check_attn_impl, out_size, shift_kernels)

from .local_attention import local_attention


def position_grid(h: int, w: int, dtype: torch.dtype, device) -> torch.Tensor:
    """(1, 2, h, w): channel 0 is linspace(-1, 1, w) along the width, channel 1 along the height."""
    loc_w = torch.linspace(-1.0, 1.0, w, dtype=dtype, device=device).unsqueeze(0).repeat(h, 1)
    loc_h = torch.linspace(-1.0, 1.0, h, dtype=dtype, device=device).unsqueeze(1).repeat(1, w)
    return torch.cat([loc_w.unsqueeze(0), loc_h.unsqueeze(0)], 0).unsqueeze(0)


class ACmix(nn.Module):
    """Shared 1x1 projections feeding a local self-attention path and a shift-convolution path.

    Args:
        in_planes: input channels.
        out_planes: output channels; divisible by ``head``.
        k_att: attention window (odd).
        head: attention heads.
        k_conv: convolution kernel of the conv path (odd).
        stride: spatial stride of both paths; output size is ceil(size / stride).
        dilation: dilation of the attention window.
        attn_impl: "fast" (``local_attention``: compiled kernel or offset accumulation; fused
            projections and conv path) or "unfold" (the official formulation); the same
            numbers within float roundoff.
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

        self.rate1 = nn.Parameter(torch.full((1,), 0.5))
        self.rate2 = nn.Parameter(torch.full((1,), 0.5))
        self.conv1 = nn.Conv2d(in_planes, out_planes, kernel_size=1, bias=True)
        self.conv2 = nn.Conv2d(in_planes, out_planes, kernel_size=1, bias=True)
        self.conv3 = nn.Conv2d(in_planes, out_planes, kernel_size=1, bias=True)
        self.conv_p = nn.Conv2d(2, self.head_dim, kernel_size=1, bias=True)
        self.fc = nn.Conv2d(3 * head, k_conv * k_conv, kernel_size=1, bias=False)
        # Built with a bias and then stripped of it, as the official init does, so that one seed
        # draws the same weights here and there.
        self.dep_conv = nn.Conv2d(k_conv * k_conv * self.head_dim, out_planes, kernel_size=k_conv,
                                  stride=stride, padding=k_conv // 2, groups=self.head_dim,
                                  bias=True)
        self.dep_conv.bias = None
        with torch.no_grad():
            self.dep_conv.weight.copy_(torch.from_numpy(shift_kernels(k_conv, out_planes)))

    def _unfold(self, t: torch.Tensor) -> torch.Tensor:
        """(n, head_dim, h, w) -> (n, head_dim, k_att^2, h_out, w_out), reflection padded."""
        p = self.pad_att
        cols = F.unfold(F.pad(t, (p, p, p, p), mode="reflect"), self.k_att,
                        dilation=self.dilation, stride=self.stride)
        h_out, w_out = out_size(t.shape[2], self.stride), out_size(t.shape[3], self.stride)
        return cols.view(t.shape[0], self.head_dim, self.k_att * self.k_att, h_out, w_out)

    def forward_attention(self, q, k, v):
        # torch.onnx took >9 min on ResNet-50 through the offset loop.
        if self.attn_impl == "fast" and not torch.compiler.is_exporting():
            return self.forward_attention_fast(q, k, v)
        b, _, h, w = q.shape
        s = self.stride
        scaling = float(self.head_dim) ** -0.5
        pe = self.conv_p(position_grid(h, w, q.dtype, q.device))
        q_att = q.view(b * self.head, self.head_dim, h, w) * scaling
        k_att = k.view(b * self.head, self.head_dim, h, w)
        v_att = v.view(b * self.head, self.head_dim, h, w)
        if s > 1:
            q_att, q_pe = q_att[:, :, ::s, ::s], pe[:, :, ::s, ::s]
        else:
            q_pe = pe
        unfold_k, unfold_pe = self._unfold(k_att), self._unfold(pe)
        att = (q_att.unsqueeze(2) * (unfold_k + q_pe.unsqueeze(2) - unfold_pe)).sum(1)
        att = torch.softmax(att, dim=1)
        out = (att.unsqueeze(1) * self._unfold(v_att)).sum(2)
        return out.view(b, self.out_planes, out.shape[-2], out.shape[-1])

    def forward_attention_fast(self, q, k, v):
        b, _, h, w = q.shape
        s = self.stride
        pe = self.conv_p(position_grid(h, w, q.dtype, q.device))
        # q, k, v may be channel slices of one projection: unflatten is a view, and the
        # arithmetic below writes dense (b * head, head_dim, ...) maps.
        q_att = q.unflatten(1, (self.head, self.head_dim))
        q_pe = pe
        if s > 1:
            q_att, q_pe = q_att[..., ::s, ::s], pe[:, :, ::s, ::s]
        q_att = (q_att * (float(self.head_dim) ** -0.5)).flatten(0, 1)
        k_att = (k.unflatten(1, (self.head, self.head_dim)) - pe).flatten(0, 1)
        v_att = v.reshape(b * self.head, self.head_dim, h, w)
        # Softmax cancels the window-constant q . pe_centre, but its gradient cancels the
        # roundoff of the pe gradient as in the reference.
        centre = (q_att * q_pe).sum(1, keepdim=True)
        out = local_attention(q_att, k_att, v_att, centre, self.k_att, self.dilation, s)
        return out.reshape(b, self.out_planes, out.shape[-2], out.shape[-1])

    def forward_conv(self, q, k, v):
        b, _, h, w = q.shape
        qkv = [t.view(b, self.head, self.head_dim, h * w) for t in (q, k, v)]
        f_all = self.fc(torch.cat(qkv, 1))  # (b, k_conv^2, head_dim, h*w)
        f_conv = f_all.permute(0, 2, 1, 3).reshape(b, -1, h, w)  # channels (head_dim, k_conv^2)
        return self.dep_conv(f_conv)  # channels (head_dim, head)

    def projections(self, x: torch.Tensor) -> torch.Tensor:
        """conv1, conv2 and conv3 as one 1x1 convolution: (b, 3 out_planes, h, w), channels
        (q | k | v, head, head_dim); each output channel is the same sum as its own conv's."""
        weight = torch.cat((self.conv1.weight, self.conv2.weight, self.conv3.weight))
        bias = torch.cat((self.conv1.bias, self.conv2.bias, self.conv3.bias))
        return F.conv2d(x, weight, bias)

    def forward_conv_fast(self, qkv: torch.Tensor) -> torch.Tensor:
        """``forward_conv`` as one grouped convolution. fc (1x1, no bias) and dep_conv (grouped
        by head_dim, no bias) are both linear, so dep_conv(fc(.)) is a grouped conv whose kernel
        is their product: per head_dim group, 3 head inputs -> head outputs, k_conv x k_conv."""
        b, _, h, w = qkv.shape
        hd, k2 = self.head_dim, self.k_conv * self.k_conv
        grouped = qkv.view(b, 3 * self.head, hd, h, w).transpose(1, 2).reshape(b, -1, h, w)
        dep = self.dep_conv.weight.view(hd, self.head, k2, self.k_conv, self.k_conv)
        kernel = torch.einsum("dojyx,jc->docyx", dep, self.fc.weight.view(k2, 3 * self.head))
        kernel = kernel.reshape(self.out_planes, 3 * self.head, self.k_conv, self.k_conv)
        return F.conv2d(grouped, kernel, None, self.stride, self.k_conv // 2, groups=hd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_acmix_input(x.shape[2], x.shape[3], self.k_att, self.dilation)
        if self.attn_impl == "fast" and not torch.compiler.is_exporting():
            qkv = self.projections(x)
            q, k, v = qkv.chunk(3, 1)
            out_att, out_conv = self.forward_attention_fast(q, k, v), self.forward_conv_fast(qkv)
        else:
            q, k, v = self.conv1(x), self.conv2(x), self.conv3(x)
            out_att, out_conv = self.forward_attention(q, k, v), self.forward_conv(q, k, v)
        return self.rate1 * out_att + self.rate2 * out_conv

    def extra_repr(self) -> str:
        return (f"{self.in_planes}, {self.out_planes}, k_att={self.k_att}, head={self.head}, "
                f"k_conv={self.k_conv}, stride={self.stride}, dilation={self.dilation}, "
                f"attn_impl={self.attn_impl}")
