"""Exact formulations of the ops that MindSpore 2.10's ONNX exporter rejects.

The exporter has no converter for Erf (exact GELU), MirrorPad (reflection padding) or Im2Col
(``ops.unfold``). Each is rebuilt here from ops it does convert, keeping the exact math:

- ``erf``: a rational approximation evaluated in float64 (relative error 3.2e-9), rounded once
  to the input dtype, so that a float32 result is within float32 rounding of erf (max 0.55 ulp,
  ``tests/test_exportable_ops_exact.py``).
- ``reflect_pad``: two gathers with reflected indices; bit-exact.
- ``unfold``: a grouped convolution whose kernels are one-hot; bit-exact (one product by 1, the
  rest by 0).
- max pooling with padding (MaxPool3DWithArgmax, also unconverted): the map is edge-padded by
  gathers and pooled unpadded; bit-exact, since a window that reaches into the padding also holds
  the edge value it repeats (padding <= kernel // 2, as torch requires).

Cells that own an exportable branch carry an ``exportable_ops`` flag; ``use_exportable_ops``
flips it on a whole model (the export path). Off, they run MindSpore's native kernels.
"""
import mindspore as ms
import numpy as np
from mindspore import Tensor, nn, ops

# erf(x) = x * P(x^2) / Q(x^2) on |x| <= 4 (float64 least squares on the relative error, Lawson
# reweighting); beyond 4, erf rounds to +-1 in float32 and is returned exactly as +-1.
ERF_CLAMP = 4.0
_ERF_P = (1.1283791692699017, 0.18495656266956378, 0.054353813270543436,
          0.003848648344177881, 0.0003824659488189948, 4.766450927981548e-06,
          -1.3605221187350765e-08)
_ERF_Q = (1.0, 0.49724691965376405, 0.11391813355616774, 0.015469947630351403,
          0.0013112296847221196, 6.388542121232255e-05)


def _f64(value: float) -> Tensor:
    """A float64 constant: a bare Python float would enter the graph as float32."""
    return Tensor(value, ms.float64)


def _horner(coeffs, t: Tensor) -> Tensor:
    """sum(c_i t^i); no ones_like(t): the exporter would fold it into a batch-shaped constant."""
    acc = t * _f64(coeffs[-1]) + _f64(coeffs[-2])
    for c in coeffs[-3::-1]:
        acc = acc * t + _f64(c)
    return acc


def _clip(x: Tensor, bound: float) -> Tensor:
    """Clip to [-bound, bound] as Max and Min: the exporter writes Clip's bounds as float32."""
    return ops.minimum(ops.maximum(x, _f64(-bound)), _f64(bound))


def erf(x: Tensor) -> Tensor:
    """erf from Abs, Max, Min, Mul, Add, Div, Greater, Where and Cast: within float32 rounding."""
    x64 = x.astype(ms.float64)
    xc = _clip(x64, ERF_CLAMP)
    t = xc * xc
    rational = xc * _horner(_ERF_P, t) / _horner(_ERF_Q, t)
    saturated = _clip(x64, 1.0)  # +-1 exactly wherever |x| > ERF_CLAMP
    return ops.where(ops.abs(x64) > _f64(ERF_CLAMP), saturated, rational).astype(x.dtype)


def gelu(x: Tensor) -> Tensor:
    """torch.nn.GELU() (erf form), x * (1 + erf(x / sqrt(2))) / 2, evaluated in float64."""
    x64 = x.astype(ms.float64)
    half_x = _f64(0.5) * x64
    return (half_x * (_f64(1.0) + erf(x64 * _f64(0.7071067811865476)))).astype(x.dtype)


class GELU(nn.Cell):
    """Exact (erf) GELU: MindSpore's kernel, or ``gelu`` above when exporting to ONNX."""

    def __init__(self):
        super().__init__()
        self.exportable_ops = False

    def construct(self, x: Tensor) -> Tensor:
        if self.exportable_ops:
            return gelu(x)
        return ops.gelu(x, approximate="none")


def reflect_indices(size: int, pad: int) -> np.ndarray:
    """Indices of torch's 'reflect' padding (edge not repeated) along an axis of ``size``."""
    idx = np.arange(-pad, size + pad)
    idx = np.abs(idx)
    return np.where(idx > size - 1, 2 * (size - 1) - idx, idx).astype(np.int32)


def reflect_pad(x: Tensor, pad: int) -> Tensor:
    """ops.pad(x, (pad,) * 4, mode='reflect') on the last two axes, as two gathers."""
    if pad == 0:
        return x
    rows = Tensor(reflect_indices(x.shape[-2], pad))
    cols = Tensor(reflect_indices(x.shape[-1], pad))
    return ops.gather(ops.gather(x, rows, x.ndim - 2), cols, x.ndim - 1)


def edge_indices(size: int, pad: int) -> np.ndarray:
    """Indices of 'edge' (replicate) padding along an axis of ``size``."""
    return np.clip(np.arange(-pad, size + pad), 0, size - 1).astype(np.int32)


class MaxPool2d(nn.Cell):
    """torch.nn.MaxPool2d(kernel_size, stride, padding): -inf padding, or edge padding to export.

    Args:
        kernel_size: window.
        stride: step.
        padding: on each side, at most kernel_size // 2.
    """

    def __init__(self, kernel_size: int, stride: int, padding: int):
        super().__init__()
        if not 0 <= padding <= kernel_size // 2:
            raise ValueError(f"padding={padding} must be between 0 and kernel_size // 2 "
                             f"(kernel_size={kernel_size})")
        self.padding = padding
        self.exportable_ops = False
        self.padded = nn.MaxPool2d(kernel_size=kernel_size, stride=stride, pad_mode="pad",
                                   padding=padding)
        self.unpadded = nn.MaxPool2d(kernel_size=kernel_size, stride=stride, pad_mode="valid")

    def construct(self, x: Tensor) -> Tensor:
        if not self.exportable_ops:
            return self.padded(x)
        p = self.padding
        rows = Tensor(edge_indices(x.shape[-2], p))
        cols = Tensor(edge_indices(x.shape[-1], p))
        return self.unpadded(ops.gather(ops.gather(x, rows, x.ndim - 2), cols, x.ndim - 1))


def unfold_kernels(channels: int, k: int, dtype=np.float32) -> np.ndarray:
    """(channels * k * k, 1, k, k): output channel c * k * k + j picks tap j of channel c."""
    eye = np.eye(k * k, dtype=dtype).reshape(k * k, 1, k, k)
    return np.tile(eye, (channels, 1, 1, 1))


def unfold(x: Tensor, k: int, dilation: int, stride: int) -> Tensor:
    """ops.unfold(x, k, dilation, padding=0, stride) as a one-hot grouped convolution.

    Returns (n, c * k * k, h_out, w_out), the (c, k * k) channel order of torch's F.unfold.
    """
    c = x.shape[1]
    weight = Tensor(unfold_kernels(c, k), x.dtype)
    return ops.conv2d(x, weight, stride=stride, pad_mode="valid", padding=0,
                      dilation=dilation, groups=c)


def use_exportable_ops(model: nn.Cell, enabled: bool = True) -> nn.Cell:
    """Switch every cell with an ``exportable_ops`` flag in ``model``; returns ``model``."""
    for _, cell in model.cells_and_names():
        if hasattr(cell, "exportable_ops"):
            cell.exportable_ops = enabled
    return model
