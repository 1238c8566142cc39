"""Per-image transforms (mindspore.dataset.vision) for training and evaluation.

Train: RandomResizedCrop, horizontal flip, RandAugment, normalise, CHW, random erasing (the timm
order used by the official Swin recipe; the ResNet recipe uses the first two only).
Eval: resize the shorter side to img_size / crop_pct, centre-crop img_size, normalise, CHW.
"""
import re
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np
from mindspore.dataset import vision

INTERPOLATION = {"bilinear": vision.Inter.BILINEAR, "bicubic": vision.Inter.BICUBIC,
                 "nearest": vision.Inter.NEAREST}


def parse_rand_augment(spec: str) -> Tuple[int, float, float]:
    """timm's ``'rand-m9-mstd0.5-inc1'`` -> (num_ops, magnitude, magnitude_std)."""
    parts = spec.split("-")
    if parts[0] != "rand":
        raise ValueError(f"aug.rand_augment={spec!r} must start with 'rand-', "
                         "e.g. 'rand-m9-mstd0.5-inc1'")
    num_ops, magnitude, std = 2, 9.0, 0.0
    for part in parts[1:]:
        match = re.fullmatch(r"(mstd|inc|m|n)([0-9.]+)", part)
        if not match:
            raise ValueError(f"aug.rand_augment={spec!r}: cannot parse {part!r}")
        key, value = match.group(1), float(match.group(2))
        if key == "n":
            num_ops = int(value)
        elif key == "m":
            magnitude = value
        elif key == "mstd":
            std = value
    if not 0 <= magnitude <= 10:
        raise ValueError(f"aug.rand_augment={spec!r}: magnitude must be in [0, 10]")
    return num_ops, magnitude, std


class RandAugmentNoisy:
    """RandAugment with timm's magnitude noise: per image m ~ N(magnitude, std), clipped to [0, 10].

    MindSpore's RandAugment (torchvision semantics, increasing severity) takes an integer
    magnitude bin; with 11 bins, bin m is timm's level m of 10, so the noisy magnitude is rounded
    to the nearest level. Its operation set is torchvision's, close to but not timm's.
    """

    def __init__(self, num_ops: int, magnitude: float, std: float, interpolation, fill,
                 seed: Sequence[int] = ()):
        self.magnitude, self.std = magnitude, std
        self.ops = [vision.RandAugment(num_ops, m, 11, interpolation, fill) for m in range(11)]
        self.rng = np.random.default_rng(list(seed) or None)

    def __call__(self, img: np.ndarray) -> np.ndarray:
        m = self.magnitude if self.std <= 0 else self.rng.normal(self.magnitude, self.std)
        return self.ops[int(round(min(10.0, max(0.0, m))))](img)


def _normalize(data: Dict[str, Any]) -> List:
    mean = [255.0 * m for m in data["mean"]]
    std = [255.0 * s for s in data["std"]]
    return [vision.Normalize(mean, std, is_hwc=True), vision.HWC2CHW()]


def train_transforms(data: Dict[str, Any], aug: Dict[str, Any], seed: Sequence[int] = ()) -> List:
    """Transforms from a decoded HWC uint8 image to a normalised CHW float32 array; ``seed``
    seeds the RandAugment magnitude noise (the C++ ops follow mindspore.dataset's seed)."""
    size, inter = data["img_size"], INTERPOLATION[data["interpolation"]]
    ops = [vision.RandomResizedCrop(size, scale=tuple(aug["scale"]), ratio=tuple(aug["ratio"]),
                                    interpolation=inter)]
    if aug["hflip"] > 0:
        ops.append(vision.RandomHorizontalFlip(aug["hflip"]))
    if aug["rand_augment"]:
        num_ops, magnitude, std = parse_rand_augment(aug["rand_augment"])
        fill = tuple(min(255, round(255 * m)) for m in data["mean"])
        ops.append(RandAugmentNoisy(num_ops, magnitude, std, inter, fill, seed))
    ops += _normalize(data)
    if aug["reprob"] > 0:
        ops.append(vision.RandomErasing(aug["reprob"], scale=(0.02, 1 / 3), ratio=(0.3, 1 / 0.3),
                                        value="random"))
    return ops


def eval_transforms(data: Dict[str, Any]) -> List:
    """Resize (shorter side) to img_size / crop_pct, centre-crop img_size, normalise, CHW."""
    size, inter = data["img_size"], INTERPOLATION[data["interpolation"]]
    return [vision.Resize(int(size / data["crop_pct"]), interpolation=inter),
            vision.CenterCrop(size)] + _normalize(data)
