"""Argument and input checks shared by both frameworks, so both raise the same ``ValueError``.

The official code crashes (or silently misbehaves) on each case rejected here; the cases it
crashes on but that have one correct meaning (k_conv other than 3, stride on odd sizes, dilation,
non-float32 dtypes) are supported instead and are not rejected.
"""
from typing import Sequence, Tuple

import numpy as np

from .variants import family_mixers


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {name}={value!r}")
    return value


def _odd(name: str, value: int) -> int:
    _positive_int(name, value)
    if value % 2 == 0:
        raise ValueError(f"{name} must be odd so the window has a centre, got {name}={value}")
    return value


def check_acmix_args(in_planes: int, out_planes: int, k_att: int, head: int, k_conv: int,
                     stride: int, dilation: int) -> int:
    """Validate ACmix hyper-parameters; return head_dim."""
    _positive_int("in_planes", in_planes)
    _positive_int("out_planes", out_planes)
    _positive_int("head", head)
    _odd("k_att", k_att)
    _odd("k_conv", k_conv)
    _positive_int("stride", stride)
    _positive_int("dilation", dilation)
    if out_planes % head:
        raise ValueError(f"out_planes={out_planes} is not divisible by head={head}")
    return out_planes // head


ATTN_IMPLS = ("fast", "unfold")


def check_attn_impl(attn_impl: str) -> str:
    """ACmix's attention formulation: "fast" (offset accumulation) or "unfold" (official)."""
    if attn_impl not in ATTN_IMPLS:
        raise ValueError(f"attn_impl must be one of {ATTN_IMPLS}, got attn_impl={attn_impl!r}")
    return attn_impl


def check_mixer(mixer: str, family: str) -> str:
    """``mixer`` if it is one of ``family``'s token mixers (its entries in the model table)."""
    mixers = family_mixers(family)
    if mixer not in mixers:
        raise ValueError(f"mixer must be one of {mixers}, got mixer={mixer!r}")
    return mixer


def attention_pad(k_att: int, dilation: int) -> int:
    """Reflection pad of the attention window: the official (dilation*(k_att-1)+1)//2."""
    return (dilation * (k_att - 1) + 1) // 2


def check_acmix_input(height: int, width: int, k_att: int, dilation: int) -> None:
    """Reflection padding needs pad < size on each side (as torch and MindSpore both require)."""
    pad = attention_pad(k_att, dilation)
    for name, size in (("height", height), ("width", width)):
        if size <= pad:
            raise ValueError(
                f"input {name}={size} is too small for the attention window: reflection pad "
                f"{pad} (k_att={k_att}, dilation={dilation}) needs {name} > {pad}")


def out_size(size: int, stride: int) -> int:
    """Output size of both ACmix paths: ceil(size / stride), equal to size // stride when even."""
    return -(-size // stride)


def to_2tuple(value) -> Tuple[int, int]:
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"expected an int or a pair, got {value!r}")
        return int(value[0]), int(value[1])
    return int(value), int(value)


def check_swin_args(img_size, patch_size: int, embed_dim: int, depths: Sequence[int],
                    num_heads: Sequence[int], window_size: int) -> Tuple[int, int]:
    """Validate a Swin configuration; return the patch grid (H, W).

    Every stage's resolution must be divisible by its window (after the official rule that a
    stage no larger than the window uses one window of its own size) and even before a patch merge.
    """
    img_h, img_w = to_2tuple(img_size)
    _positive_int("img_size", img_h)
    _positive_int("img_size", img_w)
    _positive_int("patch_size", patch_size)
    _positive_int("embed_dim", embed_dim)
    _positive_int("window_size", window_size)
    if len(depths) != len(num_heads) or not depths:
        raise ValueError(f"depths={list(depths)} and num_heads={list(num_heads)} must be "
                         "non-empty and of the same length")
    if img_h % patch_size or img_w % patch_size:
        raise ValueError(f"img_size={img_size} is not divisible by patch_size={patch_size}")
    grid = (img_h // patch_size, img_w // patch_size)
    for i, (depth, heads) in enumerate(zip(depths, num_heads)):
        _positive_int(f"depths[{i}]", depth)
        _positive_int(f"num_heads[{i}]", heads)
        dim = embed_dim * 2 ** i
        if dim % heads:
            raise ValueError(f"stage {i}: dim={dim} is not divisible by num_heads[{i}]={heads}")
        h, w = grid[0] // 2 ** i, grid[1] // 2 ** i
        win = min(h, w) if min(h, w) <= window_size else window_size
        if h % win or w % win:
            raise ValueError(
                f"img_size={img_size}: stage {i} resolution {h}x{w} is not divisible by "
                f"window_size={window_size}")
        if i < len(depths) - 1 and (h % 2 or w % 2):
            raise ValueError(
                f"img_size={img_size}: stage {i} resolution {h}x{w} must be even for patch merging")
    return grid


def shift_kernels(k_conv: int, out_planes: int) -> np.ndarray:
    """(out_planes, k_conv^2, k_conv, k_conv) float32: kernel i is one-hot at position i."""
    kernel = np.zeros((k_conv * k_conv, k_conv, k_conv), dtype=np.float32)
    for i in range(k_conv * k_conv):
        kernel[i, i // k_conv, i % k_conv] = 1.0
    return np.tile(kernel, (out_planes, 1, 1, 1))


def check_out_indices(name: str, value, num_stages: int) -> Tuple[int, ...]:
    """Stage indices as timm takes them, made non-negative: None for every stage, an int n for
    the last n, or a non-empty increasing sequence (negative indices count from the end)."""
    def is_int(v):
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

    if value is None:
        return tuple(range(num_stages))
    if is_int(value):
        if not 1 <= value <= num_stages:
            raise ValueError(f"{name}={value!r}: an int takes the last {name} stages, so it must "
                             f"be 1 to {num_stages}")
        return tuple(range(num_stages - int(value), num_stages))
    if not isinstance(value, (tuple, list)) or not value or not all(is_int(v) for v in value):
        raise ValueError(f"{name} must be None, an int or a non-empty sequence of stage indices, "
                         f"got {name}={value!r}")
    for v in value:
        if not -num_stages <= v < num_stages:
            raise ValueError(f"{name}={value!r}: stage {v} does not exist; the model has "
                             f"{num_stages} stages (0 to {num_stages - 1}, or negative from the "
                             "end)")
    indices = tuple(int(v) % num_stages for v in value)
    if any(b <= a for a, b in zip(indices, indices[1:])):
        raise ValueError(f"{name}={value!r} must name each stage once, in increasing order")
    return indices
