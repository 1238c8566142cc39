"""Soft targets for a batch: label smoothing, then mixup or cutmix with the flipped batch (timm's
'batch' mode, as the official Swin recipe uses)."""
from typing import Any, Dict, Tuple

import numpy as np


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


def cutmix_box(height: int, width: int, lam: float, rng: np.random.Generator
               ) -> Tuple[int, int, int, int]:
    """A box of area about (1 - lam) of the image, centre uniform, clipped: (y0, y1, x0, x1)."""
    cut = np.sqrt(1.0 - lam)
    ch, cw = int(height * cut), int(width * cut)
    cy, cx = int(rng.integers(0, height)), int(rng.integers(0, width))
    y0, y1 = np.clip(cy - ch // 2, 0, height), np.clip(cy + ch // 2, 0, height)
    x0, x1 = np.clip(cx - cw // 2, 0, width), np.clip(cx + cw // 2, 0, width)
    return int(y0), int(y1), int(x0), int(x1)


def mix_batch(images: np.ndarray, labels: np.ndarray, num_classes: int, aug: Dict[str, Any],
              rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """(B, C, H, W) images and (B,) labels -> mixed images and (B, num_classes) soft targets."""
    targets = smooth_one_hot(labels, num_classes, aug["label_smoothing"], aug["smoothing_mode"])
    mixup, cutmix = aug["mixup"], aug["cutmix"]
    if (mixup <= 0 and cutmix <= 0) or rng.random() >= aug["mixup_prob"]:
        return images, targets
    use_cutmix = cutmix > 0 and (mixup <= 0 or rng.random() < aug["switch_prob"])
    lam = float(rng.beta(cutmix, cutmix) if use_cutmix else rng.beta(mixup, mixup))
    flipped = images[::-1]
    if use_cutmix:
        height, width = images.shape[2:]
        y0, y1, x0, x1 = cutmix_box(height, width, lam, rng)
        images = images.copy()
        images[:, :, y0:y1, x0:x1] = flipped[:, :, y0:y1, x0:x1]
        lam = 1.0 - (y1 - y0) * (x1 - x0) / float(height * width)
    else:
        images = (images * lam + flipped * (1.0 - lam)).astype(images.dtype)
    targets = (targets * lam + targets[::-1] * (1.0 - lam)).astype(np.float32)
    return images, targets
