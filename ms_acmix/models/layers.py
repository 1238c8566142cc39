"""MindSpore layers with every semantic stated: pad mode, bias, epsilon, momentum, approximation.

Initialisers reproduce PyTorch's defaults (uniform in +-1/sqrt(fan_in) for conv/linear weights
and biases) unless a model passes its own.
"""
import math
from typing import Optional, Union

import mindspore as ms
from mindspore import Tensor, nn, ops
from mindspore.common.initializer import Initializer, Uniform

from .exportable import GELU, MaxPool2d

Init = Union[str, Initializer, ms.Tensor]


def _torch_default(fan_in: int) -> Initializer:
    return Uniform(scale=1.0 / math.sqrt(fan_in))


def conv2d(in_channels: int, out_channels: int, kernel_size: int, *, stride: int = 1,
           padding: int = 0, dilation: int = 1, group: int = 1, has_bias: bool,
           weight_init: Optional[Init] = None) -> nn.Conv2d:
    """torch.nn.Conv2d(..., padding=padding, bias=has_bias) with explicit zero padding."""
    fan_in = in_channels // group * kernel_size * kernel_size
    return nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, pad_mode="pad",
                     padding=padding, dilation=dilation, group=group, has_bias=has_bias,
                     weight_init=weight_init if weight_init is not None else _torch_default(fan_in),
                     bias_init=_torch_default(fan_in) if has_bias else None,
                     data_format="NCHW")


def dense(in_channels: int, out_channels: int, *, has_bias: bool,
          weight_init: Optional[Init] = None, bias_init: Optional[Init] = None) -> nn.Dense:
    """torch.nn.Linear(in, out, bias=has_bias); weight layout (out, in) as in torch."""
    return nn.Dense(in_channels, out_channels, has_bias=has_bias,
                    weight_init=weight_init if weight_init is not None
                    else _torch_default(in_channels),
                    bias_init=(bias_init if bias_init is not None else _torch_default(in_channels))
                    if has_bias else None)


def batch_norm2d(num_features: int, *, eps: float = 1e-5,
                 torch_momentum: float = 0.1) -> nn.BatchNorm2d:
    """torch.nn.BatchNorm2d(num_features, eps, momentum): MindSpore weighs the old statistic."""
    return nn.BatchNorm2d(num_features, eps=eps, momentum=1.0 - torch_momentum, affine=True,
                          gamma_init="ones", beta_init="zeros", moving_mean_init="zeros",
                          moving_var_init="ones", use_batch_statistics=None, data_format="NCHW")


def layer_norm(dim: int, *, eps: float = 1e-5) -> nn.LayerNorm:
    """torch.nn.LayerNorm(dim, eps) over the last axis."""
    return nn.LayerNorm((dim,), begin_norm_axis=-1, begin_params_axis=-1, gamma_init="ones",
                        beta_init="zeros", epsilon=eps)


def gelu_exact() -> nn.Cell:
    """torch.nn.GELU() (erf form); MindSpore's default is the tanh approximation."""
    return GELU()


def max_pool2d(kernel_size: int, stride: int, padding: int) -> MaxPool2d:
    """torch.nn.MaxPool2d(kernel_size, stride, padding) (pads with -inf)."""
    return MaxPool2d(kernel_size, stride, padding)


class DropPath(nn.Cell):
    """Stochastic depth per sample: x / keep or 0, drawn through nn.Dropout on a (B, 1, 1) mask."""

    def __init__(self, p: float):
        super().__init__()
        self.dropout = nn.Dropout(p=p)

    def construct(self, x: Tensor) -> Tensor:
        mask_shape = (x.shape[0],) + (1,) * (x.ndim - 1)
        return x * self.dropout(ops.ones(mask_shape, x.dtype))
