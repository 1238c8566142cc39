"""ACmix-Swin-T/S in PyTorch: the Swin Transformer with ACmix window attention.

State-dict names and persistent buffers (``relative_position_index``, ``attn_mask``, built from
``acmix_common.windows``) are the official ones, so the released ACmix-Swin checkpoints load
strictly.
"""
from typing import Optional, Sequence, Tuple

import torch
from torch import nn

from acmix_common.checks import check_mixer, check_swin_args, shift_kernels, to_2tuple
from acmix_common.features import (FeatureInfo, check_num_classes, features_only_stages,
                                   intermediates_plan, pruned_prefixes)
from acmix_common.variants import swin_feature_info
from acmix_common.windows import relative_position_index, shifted_window_mask

from ._registry import register_family
from .layers import DropPath


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int, drop: float = 0.0):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU(approximate="none")
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


def window_partition(x: torch.Tensor, ws: int) -> torch.Tensor:
    """(B, H, W, C) -> (B * nW, ws, ws, C)."""
    b, h, w, c = x.shape
    x = x.view(b, h // ws, ws, w // ws, ws, c)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, ws, ws, c)


def window_reverse(windows: torch.Tensor, ws: int, h: int, w: int) -> torch.Tensor:
    """(B * nW, ws, ws, C) -> (B, H, W, C)."""
    b = windows.shape[0] // ((h // ws) * (w // ws))
    x = windows.view(b, h // ws, w // ws, ws, ws, -1)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(b, h, w, -1)


class WindowAttentionACmix(nn.Module):
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
        head_dim = dim // num_heads
        self.scale = head_dim ** -0.5
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * window_size - 1) ** 2, num_heads))
        self.register_buffer("relative_position_index",
                             torch.from_numpy(relative_position_index(window_size)))
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        self.conv_path = conv_path
        if not conv_path:
            return
        self.fc = nn.Conv2d(3 * num_heads, 9, kernel_size=1, bias=True)
        # Built with a bias and then stripped of it, as the official init does (same RNG draws).
        self.dep_conv = nn.Conv2d(9 * head_dim, dim, kernel_size=3, padding=1, groups=head_dim,
                                  bias=True)
        self.dep_conv.bias = None
        with torch.no_grad():
            self.dep_conv.weight.copy_(torch.from_numpy(shift_kernels(3, dim)))
        self.rate1 = nn.Parameter(torch.full((1,), 0.5))
        self.rate2 = nn.Parameter(torch.full((1,), 0.5))

    def forward_conv(self, qkv: torch.Tensor) -> torch.Tensor:
        """qkv (B, H, W, 3C) -> (B, H, W, C); zero padding over the whole (rolled) map."""
        b, h, w, _ = qkv.shape
        f_all = qkv.reshape(b, h * w, 3 * self.num_heads, -1).permute(0, 2, 1, 3)
        f_conv = self.fc(f_all).permute(0, 3, 1, 2).reshape(b, 9 * self.dim // self.num_heads, h, w)
        return self.dep_conv(f_conv).permute(0, 2, 3, 1)

    def forward_attention(self, qkv: torch.Tensor, mask: Optional[torch.Tensor]) -> torch.Tensor:
        b, h, w, _ = qkv.shape
        ws, n = self.window_size, self.window_size ** 2
        windows = window_partition(qkv, ws).view(-1, n, 3 * self.dim)
        bw = windows.shape[0]
        qkv_w = windows.reshape(bw, n, 3, self.num_heads, self.dim // self.num_heads)
        q, k, v = qkv_w.permute(2, 0, 3, 1, 4)
        attn = (q * self.scale) @ k.transpose(-2, -1)
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        attn = attn + bias.view(n, n, -1).permute(2, 0, 1).contiguous().unsqueeze(0)
        if mask is not None:
            nw = mask.shape[0]
            attn = attn.view(bw // nw, nw, self.num_heads, n, n) + mask.unsqueeze(1).unsqueeze(0)
            attn = attn.view(-1, self.num_heads, n, n)
        attn = self.attn_drop(torch.softmax(attn, dim=-1))
        x = self.proj((attn @ v).transpose(1, 2).reshape(bw, n, self.dim))
        return window_reverse(x.view(-1, ws, ws, self.dim), ws, h, w)

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        qkv = self.qkv(x)
        if not self.conv_path:
            return self.proj_drop(self.forward_attention(qkv, mask))
        out = self.rate1 * self.forward_attention(qkv, mask) + self.rate2 * self.forward_conv(qkv)
        return self.proj_drop(out)


class SwinBlockACmix(nn.Module):
    def __init__(self, dim: int, input_resolution, num_heads: int, window_size: int = 7,
                 shift_size: int = 0, mlp_ratio: float = 4.0, qkv_bias: bool = True,
                 drop: float = 0.0, attn_drop: float = 0.0, drop_path: float = 0.0,
                 mixer: str = "acmix"):
        super().__init__()
        self.dim, self.input_resolution = dim, tuple(input_resolution)
        if min(self.input_resolution) <= window_size:
            shift_size, window_size = 0, min(self.input_resolution)
        self.window_size, self.shift_size = window_size, shift_size
        self.norm1 = nn.LayerNorm(dim, eps=1e-5)
        self.attn = WindowAttentionACmix(dim, window_size, num_heads, qkv_bias, attn_drop, drop,
                                         conv_path=mixer == "acmix")
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=1e-5)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop)
        mask = torch.from_numpy(shifted_window_mask(*self.input_resolution, window_size,
                                                     shift_size)) if shift_size > 0 else None
        self.register_buffer("attn_mask", mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = self.input_resolution
        b, length, c = x.shape
        if length != h * w:
            raise ValueError(f"input has {length} tokens, expected {h}*{w}")
        shortcut = x
        x = self.norm1(x).view(b, h, w, c)
        s = self.shift_size
        if s > 0:
            x = torch.roll(x, shifts=(-s, -s), dims=(1, 2))
        x = self.attn(x, mask=self.attn_mask)
        if s > 0:
            x = torch.roll(x, shifts=(s, s), dims=(1, 2))
        x = shortcut + self.drop_path(x.view(b, h * w, c))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class PatchMerging(nn.Module):
    def __init__(self, input_resolution, dim: int):
        super().__init__()
        self.input_resolution, self.dim = tuple(input_resolution), dim
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(4 * dim, eps=1e-5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = self.input_resolution
        b, _, c = x.shape
        x = x.view(b, h, w, c)
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], -1)
        return self.reduction(self.norm(x.view(b, -1, 4 * c)))


class BasicLayer(nn.Module):
    def __init__(self, dim: int, input_resolution, depth: int, num_heads: int, window_size: int,
                 mlp_ratio: float, qkv_bias: bool, drop: float, attn_drop: float,
                 drop_path: Sequence[float], downsample: bool, mixer: str = "acmix"):
        super().__init__()
        self.input_resolution = tuple(input_resolution)
        self.blocks = nn.ModuleList([
            SwinBlockACmix(dim, input_resolution, num_heads, window_size,
                           0 if i % 2 == 0 else window_size // 2, mlp_ratio, qkv_bias, drop,
                           attn_drop, drop_path[i], mixer)
            for i in range(depth)])
        self.downsample = PatchMerging(input_resolution, dim) if downsample else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for blk in self.blocks:
            x = blk(x)
        return self.downsample(x) if self.downsample is not None else x


class PatchEmbed(nn.Module):
    def __init__(self, img_size, patch_size: int, in_chans: int, embed_dim: int):
        super().__init__()
        self.img_size = to_2tuple(img_size)
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)
        self.norm = nn.LayerNorm(embed_dim, eps=1e-5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[2:]) != self.img_size:
            raise ValueError(f"input size {tuple(x.shape[2:])} does not match "
                             f"img_size={self.img_size}")
        return self.norm(self.proj(x).flatten(2).transpose(1, 2))


@register_family("swin")
class ACmixSwin(nn.Module):
    """Swin Transformer with ACmix attention: the reference twin of
    ``ms_acmix.models.swin.ACmixSwin``.

    The same arguments (documented there), the official state-dict names and initialisation
    (trunc_normal_ std 0.02 on every Linear, zero biases, LayerNorm weight 1).
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
        dpr = [x.item() for x in torch.linspace(0, drop_path_rate, sum(depths))]
        self.layers = nn.ModuleList()
        for i, (depth, heads) in enumerate(zip(depths[:built], num_heads)):
            start = sum(depths[:i])
            self.layers.append(BasicLayer(
                int(embed_dim * 2 ** i), (grid[0] // 2 ** i, grid[1] // 2 ** i), depth, heads,
                window_size, mlp_ratio, qkv_bias, drop_rate, attn_drop_rate,
                dpr[start:start + depth], downsample=i < built - 1, mixer=mixer))
        self.feature_info = FeatureInfo(swin_feature_info(embed_dim, patch_size, depths),
                                        returned or range(self.num_layers))
        self.out_indices = self.feature_info.out_indices
        self.norm = nn.Identity() if features_only else nn.LayerNorm(self.num_features, eps=1e-5)
        self.avgpool = nn.AdaptiveAvgPool1d(1)
        self.head = self._classifier(self.num_classes)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.LayerNorm):
            nn.init.constant_(m.bias, 0)
            nn.init.constant_(m.weight, 1.0)

    def no_weight_decay_keywords(self):
        return {"relative_position_bias_table"}

    def _classifier(self, num_classes: int) -> nn.Module:
        return nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()

    @property
    def pruned_prefixes(self) -> Tuple[str, ...]:
        """State-dict prefixes (torch names) of the full model that this one does not build."""
        built = len(self.layers)
        return pruned_prefixes([f"layers.{i}" for i in range(self.num_layers)], built, "head",
                               self.num_classes, [f"layers.{built - 1}.downsample"],
                               self.features_only, ["norm"])

    def get_classifier(self) -> nn.Module:
        return self.head

    def reset_classifier(self, num_classes: int) -> None:
        """timm's; as ``ms_acmix.models.swin.ACmixSwin.reset_classifier``."""
        if self.features_only:
            raise ValueError("reset_classifier: a features_only model has no classifier")
        self.num_classes = check_num_classes(num_classes)
        self.head = self._classifier(num_classes)
        self.head.apply(self._init_weights)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pos_drop(self.patch_embed(x))
        for layer in self.layers:
            x = layer(x)
        return self.norm(x)

    def forward_intermediates(self, x: torch.Tensor, indices=None, norm: bool = False,
                              stop_early: bool = False, output_fmt: str = "NCHW",
                              intermediates_only: bool = False):
        """timm's; as ``ms_acmix.models.swin.ACmixSwin.forward_intermediates``."""
        take, last = intermediates_plan(indices, self.num_layers, len(self.layers), norm,
                                        self.features_only, stop_early, intermediates_only,
                                        output_fmt)
        x = self.pos_drop(self.patch_embed(x))
        intermediates = []
        for i, layer in enumerate(self.layers[:last + 1]):
            for blk in layer.blocks:
                x = blk(x)
            if i in take:
                y = self.norm(x) if norm and i == self.num_layers - 1 else x
                h, w = layer.input_resolution
                intermediates.append(y.reshape(y.shape[0], h, w, -1).permute(0, 3, 1, 2)
                                     .contiguous())
            if i < last:
                x = layer.downsample(x)
        if intermediates_only:
            return intermediates
        return self.norm(x), intermediates

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.flatten(self.avgpool(x.transpose(1, 2)), 1))

    def forward(self, x: torch.Tensor):
        if self.features_only:
            return self.forward_intermediates(x, self.out_indices, stop_early=True,
                                              intermediates_only=True)
        return self.forward_head(self.forward_features(x))
