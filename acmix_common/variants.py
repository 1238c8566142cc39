"""One entry per registered model: everything the rest of the code needs to know about it.

Like timm's pretrained cfg, recorded once here instead of guessed from names or attributes:
the family, the variant's architecture kwargs, the default input and whether the model fixes it
at construction, the classifier and first-conv parameter prefixes, the feature stages, the
official evaluation preprocessing, and a narrow variant at the official depth for quick checks.
Nothing here imports torch or MindSpore: each family's model file registers its class with its
framework's registry (``@register_family("swin")`` in ``ms_acmix/models/_registry.py`` and
``torch_ref/models/_registry.py``), which builds ``name`` from the class of ``family`` and the
entry's kwargs. Adding a variant is one entry.
"""
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from .name_map import under

FRAMEWORKS = ("mindspore", "torch")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

Stages = List[Dict[str, Any]]  # timm's feature_info: [{'num_chs', 'reduction', 'module'}, ...]


def resnet_feature_info(base_planes: int, expansion: int = 4) -> Stages:
    """The four stages ``layer1..4``: stem stride 4, then each later stage halves the map."""
    return [dict(num_chs=base_planes * 2 ** i * expansion, reduction=4 * 2 ** i,
                 module=f"layer{i + 1}") for i in range(4)]


def swin_feature_info(embed_dim: int, patch_size: int, depths: Sequence[int]) -> Stages:
    """Stage i before its patch merge (the output of its last block): embed_dim * 2^i channels
    at patch_size * 2^i."""
    return [dict(num_chs=embed_dim * 2 ** i, reduction=patch_size * 2 ** i,
                 module=f"layers.{i}.blocks.{depth - 1}") for i, depth in enumerate(depths)]


@dataclass(frozen=True)
class ModelInfo:
    """What the code knows about one registered model, whichever framework builds it."""

    name: str
    family: str  # the key its framework classes are registered under
    kwargs: Mapping[str, Any]  # the variant's architecture, passed to the constructor
    feature_rule: Callable[[Mapping[str, Any]], Stages]  # full kwargs -> feature_info
    classifier: Tuple[str, ...]  # parameter prefixes of the classifier (torch-style names)
    first_conv: str  # parameter prefix of the first convolution
    mixers: Tuple[str, ...]  # the family's token mixers: its ACmix mixer, or the plain layer
    # Whether the ACmix mixer is the ACmix module (``ms_acmix.ACmix``/``torch_ref.ACmix``), whose
    # sliding-window attention has two formulations (``attn_impl``); a family whose ACmix mixer is
    # its own block (Swin: window attention plus the conv path) takes no attn_impl.
    acmix_module: bool
    input_size: Tuple[int, int, int] = (3, 224, 224)
    input_size_kwarg: Optional[str] = None  # the kwarg that fixes the input size at construction
    num_classes: int = 1000
    interpolation: str = "bilinear"  # official evaluation resize
    crop_pct: float = 0.875
    mean: Tuple[float, float, float] = IMAGENET_MEAN
    std: Tuple[float, float, float] = IMAGENET_STD
    small_kwargs: Mapping[str, Any] = field(default_factory=dict)  # narrow, official depth
    small_input_size: Tuple[int, int, int] = (3, 224, 224)

    def __post_init__(self):
        for name in ("kwargs", "small_kwargs"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    @property
    def fixed_input_size(self) -> bool:
        return self.input_size_kwarg is not None

    def model_kwargs(self, overrides: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
        """The constructor's kwargs: the variant's, then ``overrides``."""
        return {**self.kwargs, **(overrides or {})}

    def feature_info(self, overrides: Optional[Mapping[str, Any]] = None) -> Stages:
        """The feature stages of this variant built with ``overrides``."""
        return self.feature_rule(self.model_kwargs(overrides))

    def input_chw(self, overrides: Optional[Mapping[str, Any]] = None,
                  img_size: Optional[int] = None) -> Tuple[int, int, int]:
        """(channels, height, width) of the input the model built with ``overrides`` takes.

        A model that fixes its size at construction takes the size it was built for; another
        takes ``img_size`` when given, else the default.
        """
        overrides = overrides or {}
        channels = int(overrides.get("in_chans", self.input_size[0]))
        size = overrides.get(self.input_size_kwarg) if self.fixed_input_size else img_size
        if size is None:
            return channels, self.input_size[1], self.input_size[2]
        h, w = size if isinstance(size, (tuple, list)) else (size, size)
        return channels, int(h), int(w)

    def is_classifier(self, torch_name: str) -> bool:
        return under(torch_name, self.classifier)


_TABLE: Dict[str, ModelInfo] = {}


def register_model(info: ModelInfo) -> ModelInfo:
    """Add ``info`` to the table (both frameworks' registries see it at once)."""
    if info.name in _TABLE:
        raise ValueError(f"model {info.name!r} is registered twice")
    same_family = [i for i in _TABLE.values() if i.family == info.family]
    if same_family and same_family[0].mixers != info.mixers:
        raise ValueError(f"model {info.name!r}: family {info.family!r} has mixers "
                         f"{same_family[0].mixers}, not {info.mixers}")
    if same_family and same_family[0].acmix_module != info.acmix_module:
        raise ValueError(f"model {info.name!r}: family {info.family!r} has acmix_module="
                         f"{same_family[0].acmix_module}, not {info.acmix_module}")
    _TABLE[info.name] = info
    return info


def unregister_model(name: str) -> None:
    del _TABLE[name]


def list_models() -> List[str]:
    return sorted(_TABLE)


def model_info(name: str) -> ModelInfo:
    """The entry of ``name``; the one check of a model name (a ``ValueError`` listing the
    registered ones)."""
    if name not in _TABLE:
        raise ValueError(f"name={name!r} is not a registered model; registered: "
                         f"{', '.join(list_models())}")
    return _TABLE[name]


def family_mixers(family: str) -> Tuple[str, ...]:
    """The token mixers of ``family`` (the same for all its variants)."""
    for info in _TABLE.values():
        if info.family == family:
            return info.mixers
    raise ValueError(f"unknown model family={family!r}")


def _resnet(name: str, depths: Tuple[int, int, int, int]) -> ModelInfo:
    # Official evaluation: torchvision Resize(256) (bilinear) + CenterCrop(224).
    return ModelInfo(
        name=name, family="resnet",
        # The ACmix hyper-parameters of the official ResNet: kernel_att, head, kernel_conv.
        kwargs=dict(layers=depths, k_att=7, head=4, k_conv=3, base_planes=64),
        feature_rule=lambda kw: resnet_feature_info(kw["base_planes"]),
        classifier=("fc",), first_conv="conv1", mixers=("acmix", "conv"), acmix_module=True,
        interpolation="bilinear", crop_pct=0.875,
        small_kwargs=dict(base_planes=16, num_classes=10), small_input_size=(3, 128, 128))


def _swin(name: str, depths: Tuple[int, ...], drop_path_rate: float) -> ModelInfo:
    # Official evaluation: timm build_transform with TEST.CROP: Resize(int(256 / 224 * 224))
    # (bicubic) + CenterCrop(224).
    return ModelInfo(
        name=name, family="swin",
        kwargs=dict(patch_size=4, embed_dim=96, depths=depths, num_heads=(3, 6, 12, 24),
                    window_size=7, drop_path_rate=drop_path_rate),
        feature_rule=lambda kw: swin_feature_info(kw["embed_dim"], kw["patch_size"],
                                                  kw["depths"]),
        classifier=("head",), first_conv="patch_embed.proj", mixers=("acmix", "attention"),
        acmix_module=False,
        input_size_kwarg="img_size", interpolation="bicubic", crop_pct=0.875,
        small_kwargs=dict(img_size=64, embed_dim=24, window_size=4, num_classes=10),
        small_input_size=(3, 64, 64))


for _info in (_resnet("acmix_resnet26", (1, 2, 4, 1)), _resnet("acmix_resnet38", (2, 3, 5, 2)),
              _resnet("acmix_resnet50", (3, 4, 6, 3)),
              _swin("acmix_swin_tiny", (2, 2, 6, 2), drop_path_rate=0.2),
              _swin("acmix_swin_small", (2, 2, 18, 2), drop_path_rate=0.3)):
    register_model(_info)
