"""timm's RandomErasing in 'pixel' mode on one normalised CHW image (the official Swin recipe:
probability 0.25, one box, area 2% to 1/3, aspect ratio 0.3 to 1/0.3, per-pixel N(0, 1) values).

``draw`` returns the box and its values (or None); ``apply`` is pure. timm draws the box from
Python's ``random`` (ten attempts, the first that fits wins) and the values from torch's normal
generator; here the values come from the sample's NumPy generator.
"""
import math
import random
from dataclasses import dataclass
from typing import Optional

import numpy as np

MIN_AREA, MAX_AREA, MIN_ASPECT = 0.02, 1.0 / 3.0, 0.3
ATTEMPTS = 10


@dataclass(frozen=True)
class Erase:
    top: int
    left: int
    values: np.ndarray  # (C, h, w) float32: the box's new pixels

    def __eq__(self, other) -> bool:
        return (isinstance(other, Erase) and (self.top, self.left) == (other.top, other.left)
                and np.array_equal(self.values, other.values))


def draw(prob: float, chans: int, height: int, width: int, rng: random.Random,
         np_rng: np.random.RandomState) -> Optional[Erase]:
    if rng.random() > prob:
        return None
    area = height * width
    log_aspect = (math.log(MIN_ASPECT), math.log(1.0 / MIN_ASPECT))
    for _ in range(ATTEMPTS):
        target = rng.uniform(MIN_AREA, MAX_AREA) * area
        aspect = math.exp(rng.uniform(*log_aspect))
        h = int(round(math.sqrt(target * aspect)))
        w = int(round(math.sqrt(target / aspect)))
        if w < width and h < height:
            top = rng.randint(0, height - h)
            left = rng.randint(0, width - w)
            return Erase(top, left, np_rng.standard_normal((chans, h, w)).astype(np.float32))
    return None


def apply(chw: np.ndarray, erase: Optional[Erase]) -> np.ndarray:
    if erase is None:
        return chw
    out = chw.copy()
    _, h, w = erase.values.shape
    out[:, erase.top:erase.top + h, erase.left:erase.left + w] = erase.values
    return out
