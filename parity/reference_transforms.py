"""The official preprocessing, written from torchvision's and timm's documented semantics on PIL
images and torch tensors (no torchvision or timm here, and nothing shared with ms_acmix).

Versions: the official Swin recipe pins timm 0.3.2 and torchvision 0.9; the ResNet recipe uses
plain torchvision. Random draws come from generators passed in (timm calls the ``random``
module and ``np.random``, torchvision torch's generator): ``rng`` has Python's ``random`` API,
``np_rng`` NumPy's legacy one.
"""
import math

import numpy as np
import torch
from PIL import Image

PIL_FILTERS = {"nearest": Image.NEAREST, "bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC}


def pil_loader(path):
    """torchvision's ImageFolder loader: open, convert to RGB (no EXIF rotation)."""
    with open(path, "rb") as f:
        img = Image.open(f)
        return img.convert("RGB")


class Compose:
    def __init__(self, transforms):
        self.transforms = transforms

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x


class Resize:
    """torchvision Resize(int): the shorter edge to ``size``, the other int(size * long / short);
    a PIL image whose shorter edge already is ``size`` comes back as it is."""

    def __init__(self, size, interpolation):
        self.size, self.interpolation = size, interpolation

    def __call__(self, img):
        w, h = img.size
        short, long = (w, h) if w <= h else (h, w)
        if short == self.size:
            return img
        new_long = int(self.size * long / short)
        new_w, new_h = (self.size, new_long) if w <= h else (new_long, self.size)
        return img.resize((new_w, new_h), self.interpolation)


class CenterCrop:
    """torchvision CenterCrop: zero-pad if smaller, then crop at int(round(margin / 2.0))."""

    def __init__(self, size):
        self.size = size

    def __call__(self, img):
        w, h = img.size
        th = tw = self.size
        if tw > w or th > h:
            padded = Image.new(img.mode, (max(w, tw), max(h, th)))
            padded.paste(img, ((tw - w) // 2 if tw > w else 0, (th - h) // 2 if th > h else 0))
            img = padded
            w, h = img.size
        top = int(round((h - th) / 2.0))
        left = int(round((w - tw) / 2.0))
        return img.crop((left, top, left + tw, top + th))


class ToTensor:
    """PIL uint8 HWC -> float32 CHW tensor in [0, 1]."""

    def __call__(self, img):
        arr = np.array(img, dtype=np.uint8)
        if arr.ndim == 2:
            arr = arr[:, :, None]
        return torch.from_numpy(arr).permute(2, 0, 1).contiguous().float().div(255)


class Normalize:
    def __init__(self, mean, std):
        self.mean = torch.tensor(mean, dtype=torch.float32)[:, None, None]
        self.std = torch.tensor(std, dtype=torch.float32)[:, None, None]

    def __call__(self, tensor):
        return tensor.clone().sub_(self.mean).div_(self.std)


def swin_eval_transform(img_size, mean, std, interpolation="bicubic"):
    """Swin-Transformer data/build.py, TEST.CROP: Resize(int(256/224 * img_size)) + CenterCrop;
    at img_size <= 32 (CIFAR-style) it neither resizes nor crops."""
    if img_size <= 32:
        return Compose([ToTensor(), Normalize(mean, std)])
    return Compose([Resize(int((256 / 224) * img_size), PIL_FILTERS[interpolation]),
                    CenterCrop(img_size), ToTensor(), Normalize(mean, std)])


def resnet_eval_transform(mean, std):
    """ACmix ResNet/main.py: Resize(256) (bilinear), CenterCrop(224)."""
    return Compose([Resize(256, Image.BILINEAR), CenterCrop(224), ToTensor(),
                    Normalize(mean, std)])


def timm_eval_transform(img_size, crop_pct, interpolation, mean, std):
    """timm transforms_imagenet_eval: Resize(floor(img_size / crop_pct)) + CenterCrop."""
    return Compose([Resize(int(math.floor(img_size / crop_pct)), PIL_FILTERS[interpolation]),
                    CenterCrop(img_size), ToTensor(), Normalize(mean, std)])


def timm_crop_params(img, scale, ratio, rng):
    """timm RandomResizedCropAndInterpolation.get_params -> (i, j, h, w)."""
    area = img.size[0] * img.size[1]
    for _attempt in range(10):
        target_area = rng.uniform(*scale) * area
        log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
        aspect_ratio = math.exp(rng.uniform(*log_ratio))
        w = int(round(math.sqrt(target_area * aspect_ratio)))
        h = int(round(math.sqrt(target_area / aspect_ratio)))
        if w <= img.size[0] and h <= img.size[1]:
            i = rng.randint(0, img.size[1] - h)
            j = rng.randint(0, img.size[0] - w)
            return i, j, h, w
    in_ratio = img.size[0] / img.size[1]
    if in_ratio < min(ratio):
        w = img.size[0]
        h = int(round(w / min(ratio)))
    elif in_ratio > max(ratio):
        h = img.size[1]
        w = int(round(h * max(ratio)))
    else:
        w, h = img.size
    return (img.size[1] - h) // 2, (img.size[0] - w) // 2, h, w


def resized_crop(img, i, j, h, w, size, interpolation):
    """torchvision F.resized_crop on PIL: crop (left j, top i), then resize to (size, size)."""
    return img.crop((j, i, j + w, i + h)).resize((size, size), interpolation)


def hflip(img):
    return img.transpose(Image.FLIP_LEFT_RIGHT)


class RandomErasing:
    """timm RandomErasing (one box, after normalisation) on a CHW tensor, in place.

    ``normal(shape)`` gives the 'pixel' mode values (timm: torch's normal_); 'rand' takes one
    value per channel, 'const' zeros.
    """

    def __init__(self, probability=0.5, min_area=0.02, max_area=1 / 3, min_aspect=0.3,
                 mode="const", normal=None):
        self.probability = probability
        self.min_area, self.max_area = min_area, max_area
        self.log_aspect_ratio = (math.log(min_aspect), math.log(1 / min_aspect))
        self.mode, self.normal = mode, normal

    def _pixels(self, chan, h, w):
        if self.mode == "pixel":
            return torch.as_tensor(self.normal((chan, h, w)))
        if self.mode == "rand":
            return torch.as_tensor(self.normal((chan, 1, 1)))
        return torch.zeros((chan, 1, 1))

    def __call__(self, img, rng):
        chan, img_h, img_w = img.shape
        if rng.random() > self.probability:
            return img
        area = img_h * img_w
        for _attempt in range(10):
            target_area = rng.uniform(self.min_area, self.max_area) * area / 1
            aspect_ratio = math.exp(rng.uniform(*self.log_aspect_ratio))
            h = int(round(math.sqrt(target_area * aspect_ratio)))
            w = int(round(math.sqrt(target_area / aspect_ratio)))
            if w < img_w and h < img_h:
                top = rng.randint(0, img_h - h)
                left = rng.randint(0, img_w - w)
                img[:, top:top + h, left:left + w] = self._pixels(chan, h, w)
                break
        return img
