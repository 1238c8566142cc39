"""Hypothesis strategies: configurations, never raw arrays (data comes from a drawn seed)."""
from dataclasses import asdict, dataclass, field
from typing import Tuple

from hypothesis import assume
from hypothesis import strategies as st

from acmix_common.checks import ATTN_IMPLS, attention_pad, check_swin_args

seeds = st.integers(min_value=0, max_value=2 ** 31 - 1)
# ACmix's attention formulation, drawn for each framework independently.
attn_impls = st.sampled_from(ATTN_IMPLS)
# A small input scale puts normalisation layers where their epsilon matters.
input_scales = st.sampled_from([1.0, 0.03])


@dataclass(frozen=True)
class AcmixConfig:
    batch: int
    in_planes: int
    out_planes: int
    k_att: int
    head: int
    k_conv: int
    stride: int
    dilation: int
    height: int
    width: int
    seed: int
    input_scale: float = 1.0
    torch_attn_impl: str = "unfold"
    ms_attn_impl: str = "fast"

    @property
    def kwargs(self) -> dict:
        return dict(in_planes=self.in_planes, out_planes=self.out_planes, k_att=self.k_att,
                    head=self.head, k_conv=self.k_conv, stride=self.stride,
                    dilation=self.dilation)

    @property
    def input_shape(self) -> Tuple[int, ...]:
        return (self.batch, self.in_planes, self.height, self.width)


@dataclass(frozen=True)
class SwinBlockConfig:
    batch: int
    dim: int
    num_heads: int
    window_size: int
    shift: bool
    height: int
    width: int
    seed: int
    input_scale: float = 1.0

    @property
    def input_shape(self) -> Tuple[int, ...]:
        return (self.batch, self.height * self.width, self.dim)


@dataclass(frozen=True)
class ModelConfig:
    name: str
    kwargs: dict = field(hash=False)
    input_shape: Tuple[int, ...]
    seed: int
    input_scale: float = 1.0
    torch_attn_impl: str = "unfold"
    ms_attn_impl: str = "fast"


def describe(config) -> dict:
    return asdict(config)


@st.composite
def acmix_configs(draw, max_side: int = 10) -> AcmixConfig:
    head = draw(st.integers(1, 3))
    k_att = draw(st.sampled_from([1, 3, 5, 7]))
    dilation = draw(st.integers(1, 2))
    pad = attention_pad(k_att, dilation)
    return AcmixConfig(
        batch=draw(st.integers(1, 2)), in_planes=draw(st.integers(1, 6)),
        out_planes=head * draw(st.integers(1, 3)), k_att=k_att, head=head,
        k_conv=draw(st.sampled_from([1, 3, 5])), stride=draw(st.integers(1, 3)),
        dilation=dilation, height=draw(st.integers(pad + 1, pad + max_side)),
        width=draw(st.integers(pad + 1, pad + max_side)), seed=draw(seeds),
        input_scale=draw(input_scales), torch_attn_impl=draw(attn_impls),
        ms_attn_impl=draw(attn_impls))


@st.composite
def invalid_acmix_kwargs(draw) -> Tuple[dict, Tuple[int, int]]:
    """One broken hyper-parameter or an input no larger than the reflection pad."""
    kwargs = dict(in_planes=4, out_planes=4, k_att=3, head=2, k_conv=3, stride=1, dilation=1)
    hw = (6, 6)
    broken = draw(st.sampled_from(["head", "k_att", "k_conv", "stride", "dilation", "size"]))
    if broken == "head":
        kwargs["out_planes"] = draw(st.sampled_from([3, 5, 7]))
    elif broken in ("k_att", "k_conv"):
        kwargs[broken] = draw(st.sampled_from([0, 2, 4, -1]))
    elif broken in ("stride", "dilation"):
        kwargs[broken] = draw(st.sampled_from([0, -1]))
    else:
        kwargs["k_att"] = draw(st.sampled_from([3, 5, 7]))
        pad = attention_pad(kwargs["k_att"], 1)
        small = draw(st.integers(1, pad))
        hw = draw(st.sampled_from([(small, pad + 2), (pad + 2, small)]))
    return kwargs, hw


def _min_head_dim(heads: int) -> int:
    """At least 2 channels a head and 4 in all: a LayerNorm over 2 channels maps every input to
    +-1, so its gradient lives only in epsilon, pure cancellation that float32 cannot resolve to
    any stated relative accuracy (PyTorch float32 itself is 4e-4 off float64 there)."""
    return max(2, -(-4 // heads))


@st.composite
def swin_block_configs(draw) -> SwinBlockConfig:
    heads = draw(st.integers(1, 3))
    window = draw(st.integers(2, 4))
    height = window * draw(st.integers(1, 3))
    width = window * draw(st.integers(1, 3))
    return SwinBlockConfig(
        batch=draw(st.integers(1, 2)), dim=heads * draw(st.integers(_min_head_dim(heads), 4)),
        num_heads=heads,
        window_size=window, shift=draw(st.booleans()), height=height, width=width,
        seed=draw(seeds), input_scale=draw(input_scales))


def _resnet(draw, name: str) -> ModelConfig:
    head = draw(st.sampled_from([1, 2, 4]))
    k_att = draw(st.sampled_from([3, 5]))
    layers = tuple(draw(st.integers(1, 2)) for _ in range(4))
    # The smallest map an ACmix sees: stage 4's first block gets size / 16, later ones size / 32.
    smallest = 32 if layers[3] > 1 else 16
    size = draw(st.sampled_from([s for s in (32, 40, 48, 64, 72)
                                 if -(-s // smallest) > k_att // 2]))
    kwargs = dict(base_planes=draw(st.sampled_from([4, 8])), num_classes=draw(st.integers(2, 5)),
                  layers=layers, k_att=k_att, head=head, k_conv=draw(st.sampled_from([1, 3])))
    return ModelConfig(name, kwargs, (draw(st.integers(1, 2)), 3, size, size), draw(seeds),
                       draw(input_scales), draw(attn_impls), draw(attn_impls))


def _swin(draw, name: str) -> ModelConfig:
    stages = draw(st.integers(2, 3))
    base_heads = draw(st.integers(1, 2))
    heads = tuple(base_heads * 2 ** i for i in range(stages))
    kwargs = dict(img_size=draw(st.sampled_from([32, 64])),
                  patch_size=draw(st.sampled_from([2, 4])),
                  embed_dim=base_heads * draw(st.integers(_min_head_dim(base_heads), 4)),
                  depths=tuple(draw(st.integers(1, 2)) for _ in range(stages)), num_heads=heads,
                  window_size=draw(st.sampled_from([2, 4])), num_classes=draw(st.integers(2, 5)),
                  drop_path_rate=0.0)
    try:
        check_swin_args(kwargs["img_size"], kwargs["patch_size"], kwargs["embed_dim"],
                        kwargs["depths"], kwargs["num_heads"], kwargs["window_size"])
    except ValueError:
        assume(False)
    size = kwargs["img_size"]
    return ModelConfig(name, kwargs, (draw(st.integers(1, 2)), 3, size, size), draw(seeds),
                       draw(input_scales), draw(attn_impls), draw(attn_impls))


@st.composite
def model_configs(draw, names=None) -> ModelConfig:
    from torch_ref import list_models
    name = draw(st.sampled_from(names or list_models()))
    return (_swin if "swin" in name else _resnet)(draw, name)
