"""timm's RandAugment (the version the official Swin recipe pins, timm 0.3.2) on PIL images.

A spec such as ``'rand-m9-mstd0.5-inc1'`` chooses ``n`` operations (default 2) per image,
uniformly with replacement; each is applied with probability 0.5 at a magnitude drawn per
operation from N(m, mstd), clipped to [0, 10], and mapped to its argument by timm's level
functions (``inc1``: the variants whose severity increases with the magnitude). Geometric
operations resample with the recipe's interpolation and fill with the mean colour.

``draw`` takes the sample's generators and returns the operations with their arguments; ``apply``
is pure. timm draws the operation indices from NumPy's global generator and everything else from
Python's ``random``; ``draw`` takes one of each, consumed in timm's order.
"""
import random
import re
from dataclasses import dataclass
from typing import List, Sequence, Tuple

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

MAX_LEVEL = 10.0
OP_PROB = 0.5
TRANSLATE_PCT = 0.45  # timm's default for the relative translations

OPS = ("AutoContrast", "Equalize", "Invert", "Rotate", "Posterize", "Solarize", "SolarizeAdd",
       "Color", "Contrast", "Brightness", "Sharpness", "ShearX", "ShearY", "TranslateXRel",
       "TranslateYRel")
INCREASING_OPS = ("AutoContrast", "Equalize", "Invert", "Rotate", "PosterizeIncreasing",
                  "SolarizeIncreasing", "SolarizeAdd", "ColorIncreasing", "ContrastIncreasing",
                  "BrightnessIncreasing", "SharpnessIncreasing", "ShearX", "ShearY",
                  "TranslateXRel", "TranslateYRel")

Op = Tuple[str, Tuple[float, ...]]  # (operation name, its arguments)


@dataclass(frozen=True)
class RandAugmentSpec:
    num_ops: int = 2
    magnitude: float = 10.0
    magnitude_std: float = 0.0
    increasing: bool = False

    @property
    def ops(self) -> Tuple[str, ...]:
        return INCREASING_OPS if self.increasing else OPS


def parse_rand_augment(spec: str) -> RandAugmentSpec:
    """``'rand-m9-mstd0.5-inc1'`` -> RandAugmentSpec; sections m (int), n (int), mstd, inc."""
    parts = spec.split("-")
    if parts[0] != "rand":
        raise ValueError(f"aug.rand_augment={spec!r} must start with 'rand-', "
                         "e.g. 'rand-m9-mstd0.5-inc1'")
    values = {}
    for part in parts[1:]:
        match = re.fullmatch(r"(mstd|inc|m|n)(\d[0-9.]*)", part)
        if not match:
            raise ValueError(f"aug.rand_augment={spec!r}: cannot parse {part!r} (sections: m<int>, "
                             "n<int>, mstd<float>, inc<0|1>)")
        values[match.group(1)] = match.group(2)
    try:
        out = RandAugmentSpec(num_ops=int(values.get("n", 2)),
                              magnitude=float(int(values.get("m", 10))),
                              magnitude_std=float(values.get("mstd", 0.0)),
                              increasing=bool(int(values.get("inc", 0))))
    except ValueError as err:
        raise ValueError(f"aug.rand_augment={spec!r}: {err}") from err
    if not 0 <= out.magnitude <= MAX_LEVEL:
        raise ValueError(f"aug.rand_augment={spec!r}: magnitude must be in [0, 10]")
    return out


def _negate(value: float, rng: random.Random) -> float:
    return -value if rng.random() > 0.5 else value


def level_args(name: str, level: float, rng: random.Random) -> Tuple[float, ...]:
    """timm's magnitude -> argument mapping (the ``_level_to_arg`` functions)."""
    frac = level / MAX_LEVEL
    if name in ("AutoContrast", "Equalize", "Invert"):
        return ()
    if name == "Rotate":
        return (_negate(frac * 30.0, rng),)
    if name in ("ShearX", "ShearY"):
        return (_negate(frac * 0.3, rng),)
    if name in ("TranslateXRel", "TranslateYRel"):
        return (_negate(frac * TRANSLATE_PCT, rng),)
    if name == "Posterize":
        return (int(frac * 4),)
    if name == "PosterizeIncreasing":
        return (4 - int(frac * 4),)
    if name == "Solarize":
        return (int(frac * 256),)
    if name == "SolarizeIncreasing":
        return (256 - int(frac * 256),)
    if name == "SolarizeAdd":
        return (int(frac * 110),)
    if name.endswith("Increasing"):  # Color, Contrast, Brightness, Sharpness
        return (1.0 + _negate(frac * 0.9, rng),)
    return (frac * 1.8 + 0.1,)


def draw(spec: RandAugmentSpec, rng: random.Random, np_rng: np.random.RandomState) -> List[Op]:
    """The operations applied to one image, in order, with their arguments."""
    ops = spec.ops
    out = []
    for index in np_rng.randint(0, len(ops), size=spec.num_ops):
        if rng.random() > OP_PROB:
            continue
        level = spec.magnitude
        if spec.magnitude_std > 0:
            level = rng.gauss(level, spec.magnitude_std)
        level = min(MAX_LEVEL, max(0.0, level))
        out.append((ops[index], level_args(ops[index], level, rng)))
    return out


def _affine(img: Image.Image, matrix, resample: int, fill) -> Image.Image:
    return img.transform(img.size, Image.AFFINE, matrix, resample=resample, fillcolor=fill)


def _point(img: Image.Image, lut: Sequence[int]) -> Image.Image:
    return img.point(list(lut) * len(img.getbands()))


def apply_op(img: Image.Image, op: Op, resample: int, fill) -> Image.Image:
    name, args = op
    base = name[:-len("Increasing")] if name.endswith("Increasing") else name
    if base == "AutoContrast":
        return ImageOps.autocontrast(img)
    if base == "Equalize":
        return ImageOps.equalize(img)
    if base == "Invert":
        return ImageOps.invert(img)
    (arg,) = args
    if base == "Rotate":
        return img.rotate(arg, resample=resample, fillcolor=fill)
    if base == "Posterize":  # the top ``arg`` bits; 0 gives black as in timm's Pillow
        mask = ~(2 ** (8 - int(arg)) - 1) & 0xFF
        return img if arg >= 8 else _point(img, [i & mask for i in range(256)])
    if base == "Solarize":
        return _point(img, [i if i < arg else 255 - i for i in range(256)])
    if base == "SolarizeAdd":
        return _point(img, [min(255, i + arg) if i < 128 else i for i in range(256)])
    if base in ("Color", "Contrast", "Brightness", "Sharpness"):
        return getattr(ImageEnhance, base)(img).enhance(arg)
    if base == "ShearX":
        return _affine(img, (1, arg, 0, 0, 1, 0), resample, fill)
    if base == "ShearY":
        return _affine(img, (1, 0, 0, arg, 1, 0), resample, fill)
    if base == "TranslateXRel":
        return _affine(img, (1, 0, arg * img.size[0], 0, 1, 0), resample, fill)
    if base == "TranslateYRel":
        return _affine(img, (1, 0, 0, 0, 1, arg * img.size[1]), resample, fill)
    raise ValueError(f"unknown RandAugment operation {name!r}")


def apply(img: Image.Image, ops: Sequence[Op], resample: int, fill) -> Image.Image:
    for op in ops:
        img = apply_op(img, op, resample, fill)
    return img


def fill_colour(mean: Sequence[float], mode: str):
    """timm's ``img_mean``: the mean colour in 0..255, rounded (an int for one-band images)."""
    colour = tuple(min(255, round(255 * m)) for m in mean)
    return colour[0] if mode == "L" else colour
