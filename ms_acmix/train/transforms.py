"""Per-image transforms of the official recipes, run with PIL on mindspore.dataset's workers.

MindSpore's Resize is OpenCV's kernel without antialiasing and its CenterCrop rounds the offset
another way, so both recipes run on PIL images, as the official torchvision/timm pipelines do:

- eval: resize the shorter side to floor(img_size / crop_pct) (the longer to
  int(size * long / short), an image already that size is kept), centre-crop img_size at
  offsets round((side - img_size) / 2) (half to even), ToTensor, Normalize.
- train: RandomResizedCrop (ten attempts at an area in ``scale`` and a log-uniform aspect
  ratio in ``ratio``, then a centre fallback), horizontal flip, timm RandAugment (Swin), ToTensor,
  Normalize, timm RandomErasing 'pixel' (Swin).

Each random transform is a ``draw`` (parameters from the sample's generators, seeded by its key)
and a pure ``apply``, so the parity harness can feed the same draws to the reference pipeline.
"""
import math
import random
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

from . import rand_augment, random_erasing

INTERPOLATION = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC, "nearest": Image.NEAREST}
Box = Tuple[int, int, int, int]  # (top, left, height, width)


def _resample(name: str) -> int:
    if name not in INTERPOLATION:
        raise ValueError(f"interpolation={name!r} must be one of {', '.join(INTERPOLATION)}")
    return INTERPOLATION[name]


@dataclass(frozen=True)
class EvalRecipe:
    img_size: int
    interpolation: str
    crop_pct: float
    mean: Tuple[float, ...]
    std: Tuple[float, ...]

    @property
    def resize_size(self) -> int:
        """The shorter side before the crop (timm: floor(img_size / crop_pct); the Swin recipe's
        int(256 / 224 * img_size) is the same number for crop_pct 0.875)."""
        return int(math.floor(self.img_size / self.crop_pct))


def eval_recipe(data: Dict[str, Any]) -> EvalRecipe:
    """The evaluation recipe of a config's ``data`` section."""
    return EvalRecipe(data["img_size"], data["interpolation"], data["crop_pct"],
                      tuple(data["mean"]), tuple(data["std"]))


def model_eval_recipe(name: str, img_size: Optional[int] = None) -> EvalRecipe:
    """The official evaluation recipe of a registered model (its metadata entry)."""
    from acmix_common.variants import model_info
    info = model_info(name)
    return EvalRecipe(img_size or info.input_size[-1], info.interpolation, info.crop_pct,
                      tuple(info.mean), tuple(info.std))


def to_pil(image: np.ndarray) -> Image.Image:
    """HWC uint8 (C = 1 or 3) -> an 'L' or 'RGB' PIL image."""
    return Image.fromarray(image[:, :, 0] if image.shape[2] == 1 else image)


def resize_shorter(img: Image.Image, size: int, resample: int) -> Image.Image:
    """torchvision's Resize(int) on a PIL image."""
    width, height = img.size
    if min(width, height) == size:
        return img
    if width < height:
        return img.resize((size, int(size * height / width)), resample)
    return img.resize((int(size * width / height), size), resample)


def center_offsets(height: int, width: int, crop: int) -> Tuple[int, int]:
    """torchvision's centre-crop (top, left): round half to even of the margin / 2."""
    if crop > height or crop > width:
        raise ValueError(f"cannot centre-crop {crop} pixels from a {height}x{width} image")
    return int(round((height - crop) / 2.0)), int(round((width - crop) / 2.0))


def normalize(image: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """HWC uint8 -> CHW float32: ToTensor (x / 255) then Normalize ((x - mean) / std)."""
    x = image.astype(np.float32) / np.float32(255.0)
    x = (x - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1))


def as_hwc(img: Image.Image) -> np.ndarray:
    arr = np.asarray(img, dtype=np.uint8)
    return arr[:, :, None] if arr.ndim == 2 else arr


class EvalTransform:
    """Decoded HWC uint8 image -> normalised CHW float32, the recipe's eval pipeline."""

    def __init__(self, recipe: EvalRecipe):
        self.recipe = recipe
        self.resample = _resample(recipe.interpolation)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        r = self.recipe
        resized = as_hwc(resize_shorter(to_pil(image), r.resize_size, self.resample))
        top, left = center_offsets(resized.shape[0], resized.shape[1], r.img_size)
        crop = resized[top:top + r.img_size, left:left + r.img_size]
        return normalize(crop, r.mean, r.std)


@dataclass(frozen=True)
class TrainRecipe:
    img_size: int
    interpolation: str
    scale: Tuple[float, float]
    ratio: Tuple[float, float]
    hflip: float
    rand_augment: Optional[rand_augment.RandAugmentSpec]
    reprob: float
    mean: Tuple[float, ...]
    std: Tuple[float, ...]


def train_recipe(data: Dict[str, Any], aug: Dict[str, Any]) -> TrainRecipe:
    spec = aug["rand_augment"]
    return TrainRecipe(data["img_size"], data["interpolation"], tuple(aug["scale"]),
                       tuple(aug["ratio"]), aug["hflip"],
                       rand_augment.parse_rand_augment(spec) if spec else None, aug["reprob"],
                       tuple(data["mean"]), tuple(data["std"]))


@dataclass(frozen=True)
class TrainParams:
    """Everything random about one training image."""
    box: Box
    flip: bool = False
    ops: List[rand_augment.Op] = field(default_factory=list)
    erase: Optional[random_erasing.Erase] = None


def draw_resized_crop(height: int, width: int, scale: Sequence[float], ratio: Sequence[float],
                      rng: random.Random) -> Box:
    """RandomResizedCrop's box (timm's RandomResizedCropAndInterpolation.get_params)."""
    area = height * width
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target = rng.uniform(*scale) * area
        aspect = math.exp(rng.uniform(*log_ratio))
        w = int(round(math.sqrt(target * aspect)))
        h = int(round(math.sqrt(target / aspect)))
        if 0 < w <= width and 0 < h <= height:
            return rng.randint(0, height - h), rng.randint(0, width - w), h, w
    in_ratio = width / height
    if in_ratio < min(ratio):
        w, h = width, int(round(width / min(ratio)))
    elif in_ratio > max(ratio):
        w, h = int(round(height * max(ratio))), height
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


def resized_crop(img: Image.Image, box: Box, size: int, resample: int) -> Image.Image:
    """Crop ``box`` then resize it to size x size (torchvision's resized_crop on PIL)."""
    top, left, h, w = box
    return img.crop((left, top, left + w, top + h)).resize((size, size), resample)


def sample_generators(key: Sequence[int]) -> Tuple[random.Random, np.random.RandomState]:
    """The two generators of one sample (Python's for timm's ``random`` draws, NumPy's legacy
    one for timm's ``np.random`` draws), seeded by its key, e.g. (seed, epoch, rank, position)."""
    seq = np.random.SeedSequence([int(k) for k in key])
    words = seq.generate_state(6)
    return (random.Random(int(words[0]) << 32 | int(words[1])),
            np.random.RandomState(words[2:]))


class TrainTransform:
    """(decoded HWC uint8 image, int64 key) -> normalised CHW float32, the recipe's train
    pipeline; the key seeds the sample's draws, so a sample is augmented the same way whichever
    worker process runs it."""

    def __init__(self, recipe: TrainRecipe):
        self.recipe = recipe
        self.resample = _resample(recipe.interpolation)

    def draw(self, height: int, width: int, chans: int, rng: random.Random,
             np_rng: np.random.RandomState) -> TrainParams:
        r = self.recipe
        box = draw_resized_crop(height, width, r.scale, r.ratio, rng)
        flip = r.hflip > 0 and rng.random() < r.hflip
        ops = rand_augment.draw(r.rand_augment, rng, np_rng) if r.rand_augment else []
        erase = (random_erasing.draw(r.reprob, chans, r.img_size, r.img_size, rng, np_rng)
                 if r.reprob > 0 else None)
        return TrainParams(box, flip, ops, erase)

    def apply(self, image: np.ndarray, params: TrainParams) -> np.ndarray:
        r = self.recipe
        img = resized_crop(to_pil(image), params.box, r.img_size, self.resample)
        if params.flip:
            img = img.transpose(Image.FLIP_LEFT_RIGHT)
        if params.ops:
            fill = rand_augment.fill_colour(r.mean, img.mode)
            img = rand_augment.apply(img, params.ops, self.resample, fill)
        return random_erasing.apply(normalize(as_hwc(img), r.mean, r.std), params.erase)

    def __call__(self, image: np.ndarray, key: np.ndarray) -> np.ndarray:
        rng, np_rng = sample_generators(key)
        return self.apply(image, self.draw(image.shape[0], image.shape[1], image.shape[2], rng,
                                           np_rng))
