"""Hypothesis strategies: configurations, never raw arrays (data comes from a drawn seed)."""
from dataclasses import asdict, dataclass, field, replace
from typing import Callable, Dict, Tuple

from hypothesis import assume
from hypothesis import strategies as st

from acmix_common.checks import ATTN_IMPLS, attention_pad, check_swin_args
from acmix_common.variants import list_models, model_info

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

    @property
    def takes_attn_impl(self) -> bool:
        """The model's table entry says its mixer is the ACmix module (Swin's is not)."""
        return model_info(self.name).acmix_module

    def attn_impl_kwargs(self, side: str) -> dict:
        """``{"attn_impl": ...}`` of ``side`` ('torch' or 'ms') for a model that takes one."""
        if not self.takes_attn_impl:
            return {}
        return {"attn_impl": self.torch_attn_impl if side == "torch" else self.ms_attn_impl}


def describe(config) -> dict:
    fields = asdict(config)
    if isinstance(config, ModelConfig) and not config.takes_attn_impl:
        del fields["torch_attn_impl"], fields["ms_attn_impl"]
    return fields


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


# family -> (draw, name) -> ModelConfig: small widths and depths of any variant of the family.
FAMILY_STRATEGIES: Dict[str, Callable] = {}


def family_strategy(family: str) -> Callable:
    """Register the strategy of a model family: ``@family_strategy("swin")`` on a function
    ``(draw, name) -> ModelConfig``. One per family; model_configs() dispatches on it."""
    def register(fn: Callable) -> Callable:
        if family in FAMILY_STRATEGIES:
            raise ValueError(f"family {family!r} already has a parity strategy")
        FAMILY_STRATEGIES[family] = fn
        return fn
    return register


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


@family_strategy("resnet")
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


@family_strategy("swin")
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
                       draw(input_scales))


@st.composite
def model_configs(draw, names=None) -> ModelConfig:
    """A small drawn configuration of a registered model (all of them, or ``names``), from its
    family's strategy."""
    name = draw(st.sampled_from(names or list_models()))
    info = model_info(name)
    if info.family not in FAMILY_STRATEGIES:
        raise KeyError(f"model {name!r}: no parity strategy for family {info.family!r}; register "
                       f"one with @family_strategy({info.family!r}) (docs/adding-a-model.md)")
    return FAMILY_STRATEGIES[info.family](draw, name)



@st.composite
def feature_configs(draw, names=None) -> ModelConfig:
    """A drawn model as a features_only backbone returning a drawn, increasing set of stages."""
    config = draw(model_configs(names))
    stages = len(model_info(config.name).feature_info(config.kwargs))
    indices = draw(st.lists(st.integers(0, stages - 1), min_size=1, max_size=stages,
                            unique=True))
    kwargs = {**config.kwargs, "features_only": True, "out_indices": tuple(sorted(indices))}
    return replace(config, kwargs=kwargs)


# Training recipes: learning-rate schedules and gradient clipping.
RECIPE_CONFIGS = {"swin": ("acmix_swin_tiny", "acmix_swin_small"),
                  "resnet": ("acmix_resnet26", "acmix_resnet38", "acmix_resnet50")}


@dataclass(frozen=True)
class ScheduleCase:
    config: str            # a file stem under ms_acmix/configs/
    batch_per_device: int
    world: int
    steps_per_epoch: int   # optimiser steps
    accumulation: int = 1
    epochs: int = 0        # 0: the recipe's; a user's shorter run may end inside the warm-up


@dataclass(frozen=True)
class ClipCase:
    model: ModelConfig
    norm_fraction: float  # max_norm as a fraction of the float64 total norm (> 1: no clipping)


@st.composite
def schedule_cases(draw) -> ScheduleCase:
    recipe = draw(st.sampled_from(sorted(RECIPE_CONFIGS)))
    return ScheduleCase(config=draw(st.sampled_from(RECIPE_CONFIGS[recipe])),
                        batch_per_device=draw(st.sampled_from([8, 16, 32, 64, 128])),
                        world=draw(st.sampled_from([1, 2, 8, 16])),
                        steps_per_epoch=draw(st.integers(1, 7)),
                        accumulation=draw(st.sampled_from([1, 1, 2, 4])))


@st.composite
def clip_cases(draw) -> ClipCase:
    """A model and max_norm below the total norm (clipping on) or above it (a no-op)."""
    return ClipCase(draw(model_configs()), draw(st.sampled_from([0.25, 0.6, 3.0])))

# ---------------------------------------------------------------------------------------------
# Preprocessing (issue 13): re-encoded real photos, evaluation recipes, training-transform draws.
# Owned by the preprocessing work; the sections above belong to the model harness.
# ---------------------------------------------------------------------------------------------
from parity.photos import PHOTOS, PhotoEncoding  # noqa: E402

INTERPOLATIONS = ("bilinear", "bicubic")


@st.composite
def photo_encodings(draw, max_side: int = 700) -> PhotoEncoding:
    """A bundled photo, maybe resized to an odd size, as RGB/grayscale/CMYK JPEG at some quality
    or PNG bytes (always named .jpg), with an EXIF orientation tag the pipelines must ignore."""
    fmt = draw(st.sampled_from(["JPEG", "PNG"]))
    mode = draw(st.sampled_from(["RGB", "L", "CMYK"] if fmt == "JPEG" else ["RGB", "L"]))
    size = draw(st.none() | st.tuples(st.integers(33, max_side), st.integers(33, max_side)))
    quality = draw(st.integers(20, 100)) if fmt == "JPEG" else 90
    return PhotoEncoding(draw(st.sampled_from(PHOTOS)), size, mode, fmt, quality,
                         draw(st.sampled_from([1, 3, 6, 8])))


@dataclass(frozen=True)
class EvalRecipeConfig:
    kind: str            # swin (Swin build_transform), resnet (ResNet main.py), timm (crop_pct)
    img_size: int
    crop_pct: float
    interpolation: str
    photo: PhotoEncoding


@st.composite
def eval_recipe_configs(draw) -> EvalRecipeConfig:
    kind = draw(st.sampled_from(["swin", "resnet", "timm"]))
    photo = draw(photo_encodings())
    if kind == "resnet":
        return EvalRecipeConfig(kind, 224, 0.875, "bilinear", photo)
    img_size = draw(st.sampled_from([32, 56, 97, 160, 224, 256, 384]))
    if kind == "swin":  # the Swin code resizes only above 32 px (CIFAR inputs pass as they are)
        return EvalRecipeConfig(kind, max(img_size, 33), 0.875, "bicubic", photo)
    crop_pct = draw(st.floats(0.5, 1.0))
    return EvalRecipeConfig(kind, img_size, crop_pct, draw(st.sampled_from(INTERPOLATIONS)), photo)


@dataclass(frozen=True)
class CropConfig:
    photo: PhotoEncoding
    img_size: int
    scale: Tuple[float, float]
    ratio: Tuple[float, float]
    interpolation: str
    hflip: float
    seed: int


def _ordered(draw, lo: float, hi: float) -> Tuple[float, float]:
    a, b = draw(st.floats(lo, hi)), draw(st.floats(lo, hi))
    return (min(a, b), max(a, b))


@st.composite
def crop_configs(draw) -> CropConfig:
    """RandomResizedCrop draws: the recipes' scale (0.08, 1) and ratio (3/4, 4/3) or any ranges,
    including ones that exhaust the ten attempts and fall back to the centre crop."""
    official = draw(st.booleans())
    scale = (0.08, 1.0) if official else _ordered(draw, 0.01, 1.0)
    ratio = (3 / 4, 4 / 3) if official else _ordered(draw, 0.2, 5.0)
    return CropConfig(draw(photo_encodings(max_side=400)), draw(st.sampled_from([32, 64, 224])),
                      scale, ratio, draw(st.sampled_from(INTERPOLATIONS)),
                      draw(st.sampled_from([0.0, 0.5, 1.0])), draw(seeds))


@dataclass(frozen=True)
class RandAugmentConfig:
    spec: str
    photo: str
    img_size: int
    interpolation: str
    seed: int


@st.composite
def rand_augment_configs(draw) -> RandAugmentConfig:
    """timm 'rand' strings around the recipe's rand-m9-mstd0.5-inc1."""
    parts = ["rand", f"m{draw(st.integers(0, 10))}"]
    if draw(st.booleans()):
        parts.append(f"n{draw(st.integers(1, 4))}")
    mstd = draw(st.sampled_from([None, 0.5, 1.0, 3.0]))
    if mstd is not None:
        parts.append(f"mstd{mstd}")
    if draw(st.booleans()):
        parts.append("inc1")
    order = draw(st.permutations(parts[1:]))
    return RandAugmentConfig("-".join([parts[0], *order]), draw(st.sampled_from(PHOTOS)),
                             draw(st.sampled_from([24, 48, 96])),
                             draw(st.sampled_from(INTERPOLATIONS)), draw(seeds))


@dataclass(frozen=True)
class ErasingConfig:
    prob: float
    chans: int
    height: int
    width: int
    seed: int


erasing_configs = st.builds(ErasingConfig, prob=st.sampled_from([0.0, 0.25, 1.0]),
                            chans=st.sampled_from([1, 3]), height=st.integers(2, 64),
                            width=st.integers(2, 64), seed=seeds)


@dataclass(frozen=True)
class MixupConfig:
    batch: int
    classes: int
    height: int
    width: int
    mixup: float
    cutmix: float
    prob: float
    switch_prob: float
    smoothing: float
    seed: int


@st.composite
def mixup_configs(draw) -> MixupConfig:
    """The recipe (mixup 0.8, cutmix 1.0, switch 0.5, smoothing 0.1) or other settings."""
    mixup, cutmix = draw(st.sampled_from([(0.8, 1.0), (0.8, 0.0), (0.0, 1.0), (0.2, 0.3)]))
    return MixupConfig(2 * draw(st.integers(1, 4)), draw(st.integers(2, 12)),
                       draw(st.integers(1, 24)), draw(st.integers(1, 24)), mixup, cutmix,
                       draw(st.sampled_from([1.0, 0.5])), draw(st.sampled_from([0.5, 0.0, 1.0])),
                       draw(st.sampled_from([0.1, 0.0])), draw(seeds))


@dataclass(frozen=True)
class TrainPipelineConfig:
    recipe: str          # swin (timm create_transform) | resnet (torchvision)
    img_size: int
    photo: PhotoEncoding
    key: Tuple[int, ...]


@st.composite
def train_pipeline_configs(draw) -> TrainPipelineConfig:
    recipe = draw(st.sampled_from(["swin", "resnet"]))
    # the Swin code swaps RandomResizedCrop for a padded RandomCrop at <= 32 px (not ported)
    sizes = [33, 64, 224] if recipe == "swin" else [32, 64, 224]
    return TrainPipelineConfig(recipe, draw(st.sampled_from(sizes)),
                               draw(photo_encodings(max_side=400)),
                               (draw(seeds), draw(st.integers(0, 300)), draw(st.integers(0, 7)),
                                draw(st.integers(0, 5000))))


@dataclass(frozen=True)
class RandAugmentOpConfig:
    op: str
    level: float
    negate_draw: float   # the value timm's random.random() returns when it picks the sign
    photo: str
    img_size: int
    interpolation: str


@st.composite
def rand_augment_op_configs(draw) -> RandAugmentOpConfig:
    """One operation of either list at any magnitude in [0, 10], both signs."""
    from parity.reference_rand_augment import LEVEL_TO_ARG
    return RandAugmentOpConfig(draw(st.sampled_from(sorted(LEVEL_TO_ARG))),
                               draw(st.sampled_from([0.0, 10.0]) | st.floats(0.0, 10.0)),
                               draw(st.sampled_from([0.25, 0.75])), draw(st.sampled_from(PHOTOS)),
                               draw(st.sampled_from([24, 48])),
                               draw(st.sampled_from(INTERPOLATIONS)))
