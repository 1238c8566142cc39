"""Soft targets for a batch: timm's Mixup in 'batch' mode (the official Swin recipe) and label
smoothing (timm's uniform form, or the official ResNet's spread over the other classes).

Per batch, with probability ``mixup_prob``: cutmix (with probability ``switch_prob`` when both
are on) or mixup, with lambda ~ Beta(alpha, alpha), against the batch in reverse order. Cutmix
pastes a box of side sqrt(1 - lambda) times the image's, centred uniformly and clipped to the
image, and corrects lambda to the area actually kept. Targets are the smoothed one-hot rows mixed
with the same lambda.

``draw_mix`` takes a NumPy legacy generator and consumes it as timm consumes ``np.random``;
``apply_mix`` is pure.
"""
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

import numpy as np

CutBox = Tuple[int, int, int, int]  # (y0, y1, x0, x1)


def smooth_one_hot(labels: np.ndarray, num_classes: int, eps: float, mode: str) -> np.ndarray:
    """(B,) int -> (B, C) float32 targets.

    mode 'uniform' (timm): target 1 - eps + eps/C, others eps/C.
    mode 'others' (official ResNet): target 1 - eps, others eps/(C-1).
    """
    if mode == "uniform":
        off = eps / num_classes
        on = 1.0 - eps + off
    elif mode == "others":
        off = eps / max(num_classes - 1, 1)
        on = 1.0 - eps
    else:
        raise ValueError(f"aug.smoothing_mode={mode!r} must be 'uniform' or 'others'")
    out = np.full((labels.shape[0], num_classes), off, dtype=np.float32)
    out[np.arange(labels.shape[0]), labels] = on
    return out


def cutmix_box(height: int, width: int, lam: float, rng: np.random.RandomState) -> CutBox:
    """timm's rand_bbox: sides int(side * sqrt(1 - lam)), centre uniform, clipped."""
    cut = np.sqrt(1.0 - lam)
    ch, cw = int(height * cut), int(width * cut)
    cy, cx = int(rng.randint(0, height)), int(rng.randint(0, width))
    y0, y1 = np.clip(cy - ch // 2, 0, height), np.clip(cy + ch // 2, 0, height)
    x0, x1 = np.clip(cx - cw // 2, 0, width), np.clip(cx + cw // 2, 0, width)
    return int(y0), int(y1), int(x0), int(x1)


@dataclass(frozen=True)
class MixParams:
    lam: float = 1.0                 # weight of the batch itself (after the cutmix correction)
    box: Optional[CutBox] = None     # cutmix box, None for mixup or no mixing


def draw_mix(aug: Dict[str, Any], height: int, width: int,
             rng: np.random.RandomState) -> MixParams:
    mixup, cutmix = aug["mixup"], aug["cutmix"]
    if (mixup <= 0 and cutmix <= 0) or not rng.rand() < aug["mixup_prob"]:
        return MixParams()
    if mixup > 0 and cutmix > 0:
        use_cutmix = bool(rng.rand() < aug["switch_prob"])
        alpha = cutmix if use_cutmix else mixup
    else:
        use_cutmix = cutmix > 0
        alpha = cutmix if use_cutmix else mixup
    lam = float(rng.beta(alpha, alpha))
    if lam == 1.0:
        return MixParams()
    if not use_cutmix:
        return MixParams(lam)
    box = cutmix_box(height, width, lam, rng)
    y0, y1, x0, x1 = box
    return MixParams(1.0 - (y1 - y0) * (x1 - x0) / float(height * width), box)


def apply_mix(images: np.ndarray, targets: np.ndarray, params: MixParams
              ) -> Tuple[np.ndarray, np.ndarray]:
    """Mix (B, C, H, W) float32 images and (B, classes) targets with the reversed batch."""
    if params.lam == 1.0 and params.box is None:
        return images, targets
    flipped = images[::-1]
    if params.box is not None:
        y0, y1, x0, x1 = params.box
        images = images.copy()
        images[:, :, y0:y1, x0:x1] = flipped[:, :, y0:y1, x0:x1]
    else:
        images = images * np.float32(params.lam) + flipped * np.float32(1.0 - params.lam)
    targets = (targets * np.float32(params.lam)
               + targets[::-1] * np.float32(1.0 - params.lam)).astype(np.float32)
    return images, targets


def mix_batch(images: np.ndarray, labels: np.ndarray, num_classes: int, aug: Dict[str, Any],
              rng: np.random.RandomState) -> Tuple[np.ndarray, np.ndarray]:
    """(B, C, H, W) images and (B,) labels -> mixed images and (B, num_classes) soft targets."""
    mixing = aug["mixup"] > 0 or aug["cutmix"] > 0
    if mixing and images.shape[0] % 2:
        raise ValueError(f"mixup/cutmix need an even batch (timm's batch mode), got "
                         f"{images.shape[0]} images")
    targets = smooth_one_hot(labels, num_classes, aug["label_smoothing"], aug["smoothing_mode"])
    params = draw_mix(aug, images.shape[2], images.shape[3], rng)
    return apply_mix(images, targets, params)
