"""Learning rate: linear scaling with the global batch, linear warm-up, cosine decay, per step."""
import math
from typing import Any, Dict, Tuple

import numpy as np


def scaled_lrs(opt: Dict[str, Any], global_batch: int) -> Tuple[float, float, float]:
    """(lr, warmup_lr, min_lr) times global_batch / lr_scale_batch (when lr_scale_batch > 0),
    as the Swin recipe scales all three by total batch / 512."""
    factor = global_batch / opt["lr_scale_batch"] if opt["lr_scale_batch"] > 0 else 1.0
    return opt["lr"] * factor, opt["warmup_lr"] * factor, opt["min_lr"] * factor


def lr_per_step(lr: float, warmup_lr: float, min_lr: float, warmup_steps: int, total_steps: int,
                warmup_prefix: bool) -> np.ndarray:
    """float32 learning rate of every optimiser step.

    warmup_prefix=True (official ResNet): step t < W uses warmup_lr + (lr - warmup_lr)(t+1)/W,
    then a cosine from lr to min_lr over the remaining T - W steps.
    warmup_prefix=False (timm CosineLRScheduler, official Swin): step t < W uses
    warmup_lr + (lr - warmup_lr) t/W; every step t >= W uses the cosine of t/T over all T steps.
    """
    if total_steps <= 0 or not 0 <= warmup_steps < total_steps:
        raise ValueError(f"need 0 <= warmup_steps={warmup_steps} < total_steps={total_steps}")
    out = np.empty(total_steps, dtype=np.float64)
    for t in range(total_steps):
        if t < warmup_steps:
            frac = (t + 1 if warmup_prefix else t) / warmup_steps
            out[t] = warmup_lr + (lr - warmup_lr) * frac
        elif warmup_prefix:
            progress = (t - warmup_steps) / (total_steps - warmup_steps)
            out[t] = min_lr + 0.5 * (lr - min_lr) * (1 + math.cos(math.pi * progress))
        else:
            out[t] = min_lr + 0.5 * (lr - min_lr) * (1 + math.cos(math.pi * t / total_steps))
    return out.astype(np.float32)
