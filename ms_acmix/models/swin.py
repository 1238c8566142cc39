"""ACmix-Swin-T/S in MindSpore, the twin of ``torch_ref.models.swin`` (same parameter paths).

``relative_position_index`` and ``attn_mask`` (``acmix_common.windows``, the arrays torch's
buffers hold) are plain Tensors at the same paths as torch's buffers; they are not parameters.
"""
from typing import Optional, Sequence, Tuple

import numpy as np
import mindspore as ms
from mindspore import Parameter, Tensor, nn, ops
from mindspore.common.initializer import TruncatedNormal, initializer

from acmix_common.checks import check_mixer, check_swin_args, shift_kernels, to_2tuple
from acmix_common.features import (FeatureInfo, check_num_classes, features_only_stages,
                                   pruned_prefixes)
from acmix_common.variants import swin_feature_info
from acmix_common.windows import relative_position_index, shifted_window_mask

from ._registry import register_family
from .features import plan_intermediates, replace_cell
from .layers import DropPath, conv2d, dense, gelu_exact, layer_norm


def trunc_dense(in_channels: int, out_channels: int, has_bias: bool = True) -> nn.Dense:
    """The official Swin Linear init: trunc_normal(std=0.02) weight, zero bias."""
    return dense(in_channels, out_channels, has_bias=has_bias,
                 weight_init=TruncatedNormal(sigma=0.02, mean=0.0, a=-2.0, b=2.0),
                 bias_init="zeros")


class Mlp(nn.Cell):
    def __init__(self, dim: int, hidden: int, drop: float = 0.0):
        super().__init__()
        self.fc1 = trunc_dense(dim, hidden)
        self.act = gelu_exact()
        self.fc2 = trunc_dense(hidden, dim)
        self.drop = nn.Dropout(p=drop)

    def construct(self, x: Tensor) -> Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


def window_partition(x: Tensor, ws: int) -> Tensor:
    """(B, H, W, C) -> (B * nW, ws, ws, C)."""
    b, h, w, c = x.shape
    x = x.reshape(b, h // ws, ws, w // ws, ws, c)
    return ops.transpose(x, (0, 1, 3, 2, 4, 5)).reshape(-1, ws, ws, c)


def window_reverse(windows: Tensor, ws: int, h: int, w: int) -> Tensor:
    """(B * nW, ws, ws, C) -> (B, H, W, C)."""
    b = windows.shape[0] // ((h // ws) * (w // ws))
    x = windows.reshape(b, h // ws, w // ws, ws, ws, -1)
    return ops.transpose(x, (0, 1, 3, 2, 4, 5)).reshape(b, h, w, -1)


def roll_hw(x: Tensor, shift: int) -> Tensor:
    """torch.roll(x, (shift, shift), dims=(1, 2)) as slices and concats (runs everywhere)."""
    h, w = x.shape[1], x.shape[2]
    sh, sw = shift % h, shift % w
    x = ops.cat((x[:, h - sh:], x[:, :h - sh]), 1)
    return ops.cat((x[:, :, w - sw:], x[:, :, :w - sw]), 2)


class WindowAttentionACmix(nn.Cell):
    """Swin window attention (relative position bias) mixed with ACmix's shift-conv path.

    Args:
        dim: channels.
        window_size: side of the square window.
        num_heads: attention heads.
        qkv_bias: bias of the qkv projection.
        attn_drop, proj_drop: dropout rates.
        conv_path: mix in ACmix's shift-conv path (off: plain Swin window attention).
    """

    def __init__(self, dim: int, window_size: int, num_heads: int, qkv_bias: bool = True,
                 attn_drop: float = 0.0, proj_drop: float = 0.0, conv_path: bool = True):
        super().__init__()
        self.dim, self.window_size, self.num_heads = dim, window_size, num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim ** -0.5
        self.relative_position_bias_table = Parameter(
            initializer(TruncatedNormal(sigma=0.02, mean=0.0, a=-2.0, b=2.0),
                        ((2 * window_size - 1) ** 2, num_heads), ms.float32),
            name="relative_position_bias_table")
        self.relative_position_index = Tensor(relative_position_index(window_size))
        self.qkv = trunc_dense(dim, dim * 3, has_bias=qkv_bias)
        self.attn_drop = nn.Dropout(p=attn_drop)
        self.proj = trunc_dense(dim, dim)
        self.proj_drop = nn.Dropout(p=proj_drop)
        self.conv_path = conv_path
        if not conv_path:
            return
        self.fc = conv2d(3 * num_heads, 9, 1, has_bias=True)
        self.dep_conv = conv2d(9 * self.head_dim, dim, 3, padding=1, group=self.head_dim,
                               has_bias=False, weight_init=Tensor(shift_kernels(3, dim)))
        self.rate1 = Parameter(Tensor(np.full((1,), 0.5, np.float32)), name="rate1")
        self.rate2 = Parameter(Tensor(np.full((1,), 0.5, np.float32)), name="rate2")

    def forward_conv(self, qkv: Tensor) -> Tensor:
        """qkv (B, H, W, 3C) -> (B, H, W, C); zero padding over the whole (rolled) map."""
        b, h, w, _ = qkv.shape
        f_all = ops.transpose(qkv.reshape(b, h * w, 3 * self.num_heads, -1), (0, 2, 1, 3))
        f_conv = ops.transpose(self.fc(f_all), (0, 3, 1, 2)).reshape(b, 9 * self.head_dim, h, w)
        return ops.transpose(self.dep_conv(f_conv), (0, 2, 3, 1))

    def forward_attention(self, qkv: Tensor, mask: Optional[Tensor]) -> Tensor:
        b, h, w, _ = qkv.shape
        ws = self.window_size
        n = ws * ws
        windows = window_partition(qkv, ws).reshape(-1, n, 3 * self.dim)
        bw = windows.shape[0]
        qkv_w = ops.transpose(windows.reshape(bw, n, 3, self.num_heads, self.head_dim),
                              (2, 0, 3, 1, 4))
        q, k, v = qkv_w[0], qkv_w[1], qkv_w[2]
        attn = ops.matmul(q * self.scale, ops.transpose(k, (0, 1, 3, 2)))
        bias = ops.gather(self.relative_position_bias_table,
                          self.relative_position_index.reshape(-1), 0)
        attn = attn + ops.transpose(bias.reshape(n, n, -1), (2, 0, 1)).expand_dims(0)
        if mask is not None:
            nw = mask.shape[0]
            attn = attn.reshape(bw // nw, nw, self.num_heads, n, n) + \
                mask.expand_dims(1).expand_dims(0)
            attn = attn.reshape(-1, self.num_heads, n, n)
        # A one-token window: softmax is 1 (and MindSpore 2.10's CPU SoftmaxGrad over a length-1
        # axis corrupts the gradients of later softmaxes).
        attn = self.attn_drop(ops.softmax(attn, axis=-1) if n > 1 else ops.ones_like(attn))
        x = ops.transpose(ops.matmul(attn, v), (0, 2, 1, 3)).reshape(bw, n, self.dim)
        return window_reverse(self.proj(x).reshape(-1, ws, ws, self.dim), ws, h, w)

    def construct(self, x: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        qkv = self.qkv(x)
        if not self.conv_path:
            return self.proj_drop(self.forward_attention(qkv, mask))
        out = self.rate1 * self.forward_attention(qkv, mask) + self.rate2 * self.forward_conv(qkv)
        return self.proj_drop(out)


class SwinBlockACmix(nn.Cell):
    def __init__(self, dim: int, input_resolution, num_heads: int, window_size: int = 7,
                 shift_size: int = 0, mlp_ratio: float = 4.0, qkv_bias: bool = True,
                 drop: float = 0.0, attn_drop: float = 0.0, drop_path: float = 0.0,
                 mixer: str = "acmix"):
        super().__init__()
        self.dim, self.input_resolution = dim, tuple(input_resolution)
        if min(self.input_resolution) <= window_size:
            shift_size, window_size = 0, min(self.input_resolution)
        self.window_size, self.shift_size = window_size, shift_size
        self.norm1 = layer_norm(dim)
        self.attn = WindowAttentionACmix(dim, window_size, num_heads, qkv_bias, attn_drop, drop,
                                         conv_path=mixer == "acmix")
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = layer_norm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop)
        self.attn_mask = Tensor(shifted_window_mask(*self.input_resolution, window_size,
                                                    shift_size)) if shift_size > 0 else None

    def construct(self, x: Tensor) -> Tensor:
        h, w = self.input_resolution
        b, length, c = x.shape
        if length != h * w:
            raise ValueError(f"input has {length} tokens, expected {h}*{w}")
        shortcut = x
        x = self.norm1(x).reshape(b, h, w, c)
        s = self.shift_size
        if s > 0:
            x = roll_hw(x, -s)
        x = self.attn(x, self.attn_mask)
        if s > 0:
            x = roll_hw(x, s)
        x = shortcut + self.drop_path(x.reshape(b, h * w, c))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class PatchMerging(nn.Cell):
    def __init__(self, input_resolution, dim: int):
        super().__init__()
        self.input_resolution, self.dim = tuple(input_resolution), dim
        self.reduction = trunc_dense(4 * dim, 2 * dim, has_bias=False)
        self.norm = layer_norm(4 * dim)

    def construct(self, x: Tensor) -> Tensor:
        h, w = self.input_resolution
        b, _, c = x.shape
        # torch's cat of x[0::2, 0::2], x[1::2, 0::2], x[0::2, 1::2], x[1::2, 1::2] orders the 4C
        # channels (w parity, h parity, c); a reshape does it without strided slices, whose CPU
        # gradient (StridedSliceGrad) fails on some shapes in MindSpore 2.10.
        x = x.reshape(b, h // 2, 2, w // 2, 2, c)
        x = ops.transpose(x, (0, 1, 3, 4, 2, 5)).reshape(b, -1, 4 * c)
        return self.reduction(self.norm(x))


class BasicLayer(nn.Cell):
    def __init__(self, dim: int, input_resolution, depth: int, num_heads: int, window_size: int,
                 mlp_ratio: float, qkv_bias: bool, drop: float, attn_drop: float,
                 drop_path: Sequence[float], downsample: bool, mixer: str = "acmix"):
        super().__init__()
        self.input_resolution = tuple(input_resolution)
        self.blocks = nn.CellList([
            SwinBlockACmix(dim, input_resolution, num_heads, window_size,
                           0 if i % 2 == 0 else window_size // 2, mlp_ratio, qkv_bias, drop,
                           attn_drop, drop_path[i], mixer)
            for i in range(depth)])
        self.downsample = PatchMerging(input_resolution, dim) if downsample else None

    def construct(self, x: Tensor) -> Tensor:
        for blk in self.blocks:
            x = blk(x)
        if self.downsample is not None:
            x = self.downsample(x)
        return x


class PatchEmbed(nn.Cell):
    def __init__(self, img_size, patch_size: int, in_chans: int, embed_dim: int):
        super().__init__()
        self.img_size = to_2tuple(img_size)
        self.proj = conv2d(in_chans, embed_dim, patch_size, stride=patch_size, has_bias=True)
        self.norm = layer_norm(embed_dim)

    def construct(self, x: Tensor) -> Tensor:
        if x.shape[2] != self.img_size[0] or x.shape[3] != self.img_size[1]:
            raise ValueError(f"input size {x.shape[2:]} does not match img_size={self.img_size}")
        x = self.proj(x)
        b, c = x.shape[0], x.shape[1]
        return self.norm(ops.transpose(x.reshape(b, c, -1), (0, 2, 1)))


@register_family("swin")
class ACmixSwin(nn.Cell):
    """Swin Transformer with ACmix attention (patch norm on, no absolute position embedding;
    twin: ``torch_ref.models.swin.ACmixSwin``).

    Args:
        img_size: input size (int or (H, W)); every stage must be divisible by its window.
        patch_size: patch embedding stride.
        in_chans: input channels.
        num_classes: classifier outputs (0 for no head).
        embed_dim: channels of the first stage, doubled at each patch merge.
        depths: blocks per stage.
        num_heads: heads per stage.
        window_size: attention window.
        mlp_ratio: MLP hidden size over dim.
        qkv_bias: bias of the qkv projections.
        drop_rate, attn_drop_rate: dropout rates.
        drop_path_rate: stochastic depth, rising linearly to this value.
        mixer: "acmix", or "attention" for the plain Swin (window attention, no conv path).
            The ACmix block is Swin's own, not the ``ACmix`` module, so there is no ``attn_impl``:
            the window attention is dense matmuls (nothing unfolded), the conv path a grouped
            conv. (``ShiftConv`` would be faster here but moves the roundoff past the parity
            bound on 2-channel LayerNorm configs, docs/benchmarks.md.)
        features_only: a backbone: the forward returns the maps of stages ``out_indices`` (each
            stage's blocks before its patch merging, NCHW, ``feature_info``); no final norm, no
            classifier, nothing after the last returned stage.
        out_indices: the stages returned with features_only (None: all).
    """

    def __init__(self, img_size=224, patch_size: int = 4, in_chans: int = 3,
                 num_classes: int = 1000, embed_dim: int = 96,
                 depths: Sequence[int] = (2, 2, 6, 2), num_heads: Sequence[int] = (3, 6, 12, 24),
                 window_size: int = 7, mlp_ratio: float = 4.0, qkv_bias: bool = True,
                 drop_rate: float = 0.0, attn_drop_rate: float = 0.0, drop_path_rate: float = 0.1,
                 mixer: str = "acmix", features_only: bool = False, out_indices=None):
        super().__init__()
        self.mixer = check_mixer(mixer, "swin")
        grid = check_swin_args(img_size, patch_size, embed_dim, depths, num_heads, window_size)
        returned = features_only_stages(features_only, out_indices, len(depths))
        self.features_only = features_only
        self.num_classes = 0 if features_only else check_num_classes(num_classes)
        self.num_layers = len(depths)
        built = self.num_layers if returned is None else returned[-1] + 1
        self.num_features = int(embed_dim * 2 ** (self.num_layers - 1))
        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim)
        self.pos_drop = nn.Dropout(p=drop_rate)
        dpr = [float(x) for x in np.linspace(0, drop_path_rate, sum(depths), dtype=np.float32)]
        layers = []
        for i, (depth, heads) in enumerate(zip(depths[:built], num_heads)):
            start = sum(depths[:i])
            layers.append(BasicLayer(
                int(embed_dim * 2 ** i), (grid[0] // 2 ** i, grid[1] // 2 ** i), depth, heads,
                window_size, mlp_ratio, qkv_bias, drop_rate, attn_drop_rate,
                dpr[start:start + depth], downsample=i < built - 1, mixer=mixer))
        self.layers = nn.CellList(layers)
        self.feature_info = FeatureInfo(swin_feature_info(embed_dim, patch_size, depths),
                                        returned or range(self.num_layers))
        self.out_indices = self.feature_info.out_indices  # GRAPH mode reads a plain tuple
        self.norm = nn.Identity() if features_only else layer_norm(self.num_features)
        self.head = self._classifier(self.num_classes)

    def no_weight_decay_keywords(self):
        return {"relative_position_bias_table"}

    def _classifier(self, num_classes: int) -> nn.Cell:
        return trunc_dense(self.num_features, num_classes) if num_classes > 0 else nn.Identity()

    @property
    def pruned_prefixes(self) -> Tuple[str, ...]:
        """State-dict prefixes (torch names) of the full model that this one does not build."""
        built = len(self.layers)
        return pruned_prefixes([f"layers.{i}" for i in range(self.num_layers)], built, "head",
                               self.num_classes, [f"layers.{built - 1}.downsample"],
                               self.features_only, ["norm"])

    def get_classifier(self) -> nn.Cell:
        return self.head

    def reset_classifier(self, num_classes: int) -> None:
        """A new classifier (the official init: trunc_normal std 0.02, zero bias) of
        ``num_classes`` outputs; 0 leaves none (``construct`` returns the pooled features)."""
        if self.features_only:
            raise ValueError("reset_classifier: a features_only model has no classifier")
        self.num_classes = check_num_classes(num_classes)
        replace_cell(self, "head", self._classifier(num_classes))

    def forward_features(self, x: Tensor) -> Tensor:
        x = self.pos_drop(self.patch_embed(x))
        for layer in self.layers:
            x = layer(x)
        return self.norm(x)

    def forward_intermediates(self, x: Tensor, indices=None, norm: bool = False,
                              stop_early: bool = False, output_fmt: str = "NCHW",
                              intermediates_only: bool = False):
        """timm's: (``forward_features(x)``, [stage maps]), or the maps alone.

        Stage i's map is its blocks' output before its patch merging (``feature_info``), NCHW;
        ``indices`` as ``out_indices`` (None: all); ``norm`` applies the final norm to the last
        stage's map; ``stop_early`` (with intermediates_only) runs no stage after the last taken.
        """
        take, last = plan_intermediates(indices, self.num_layers, len(self.layers), norm,
                                        self.features_only, stop_early, intermediates_only,
                                        output_fmt)
        x = self.pos_drop(self.patch_embed(x))
        intermediates = []
        for i, layer in enumerate(self.layers):
            if i <= last:
                for blk in layer.blocks:
                    x = blk(x)
                if i in take:
                    y = self.norm(x) if norm and i == self.num_layers - 1 else x
                    h, w = layer.input_resolution
                    intermediates.append(ops.transpose(y.reshape(y.shape[0], h, w, -1),
                                                       (0, 3, 1, 2)))
                if i < last:
                    x = layer.downsample(x)
        if intermediates_only:
            return intermediates
        return self.norm(x), intermediates

    def forward_head(self, x: Tensor) -> Tensor:
        return self.head(ops.mean(x, axis=1))

    def construct(self, x: Tensor):
        if self.features_only:
            return self.forward_intermediates(x, self.out_indices, stop_early=True,
                                              intermediates_only=True)
        return self.forward_head(self.forward_features(x))
