"""Learning rate: linear scaling with the global batch, linear warm-up, cosine decay, per
optimiser step."""
import math
from typing import Any, Dict, Tuple

import numpy as np


def scaled_lrs(opt: Dict[str, Any], global_batch: int) -> Tuple[float, float, float]:
    """(lr, warmup_lr, min_lr) times global_batch / lr_scale_batch (when lr_scale_batch > 0),
    as the Swin recipe scales all three by total batch / 512. ``global_batch`` is the batch of
    one optimiser step: per-device batch x devices x accumulation steps (the official script
    scales by the first two, then multiplies by ACCUMULATION_STEPS)."""
    factor = global_batch / opt["lr_scale_batch"] if opt["lr_scale_batch"] > 0 else 1.0
    return opt["lr"] * factor, opt["warmup_lr"] * factor, opt["min_lr"] * factor


def warmup_steps(opt: Dict[str, Any], steps_per_epoch: int) -> int:
    """Warm-up length in optimiser steps: int(warmup_epochs x steps per epoch), as the official
    Swin build_scheduler truncates it. A run shorter than that ends inside the warm-up, as both
    official schedules do (its learning rate never reaches the peak)."""
    return int(opt["warmup_epochs"] * steps_per_epoch)


def lr_per_step(lr: float, warmup_lr: float, min_lr: float, warmup_steps: int, total_steps: int,
                warmup_prefix: bool) -> np.ndarray:
    """float32 learning rate of every optimiser step.

    warmup_prefix=True (official ResNet adjust_learning_rate_iter_warmup, set before each step):
    step t < W uses warmup_lr + (lr - warmup_lr)(t+1)/W, then a cosine from lr to min_lr over the
    remaining T - W steps.

    warmup_prefix=False (official Swin: timm CosineLRScheduler with t_in_epochs=False). Let
    f(t) = warmup_lr + (lr - warmup_lr) t/W for t < W, else the cosine of t/T from lr to min_lr
    over all T steps. The scheduler starts the optimiser at f(0), and the official loop calls
    step_update(t) *after* step t, so step t >= 1 runs with f(t - 1): one step behind f.

    W >= T (a run shorter than its warm-up) is every step warming up, in both forms.
    """
    if total_steps <= 0 or warmup_steps < 0:
        raise ValueError(f"need total_steps={total_steps} > 0 and warmup_steps={warmup_steps} "
                         ">= 0")
    out = np.empty(total_steps, dtype=np.float64)
    for t in range(total_steps):
        if warmup_prefix:
            if t < warmup_steps:
                out[t] = warmup_lr + (lr - warmup_lr) * (t + 1) / warmup_steps
            else:
                progress = (t - warmup_steps) / (total_steps - warmup_steps)
                out[t] = min_lr + 0.5 * (lr - min_lr) * (1 + math.cos(math.pi * progress))
            continue
        f_t = max(t - 1, 0)
        if f_t < warmup_steps:
            out[t] = warmup_lr + (lr - warmup_lr) * f_t / warmup_steps
        else:
            out[t] = min_lr + 0.5 * (lr - min_lr) * (1 + math.cos(math.pi * f_t / total_steps))
    return out.astype(np.float32)


def global_batch(train: Dict[str, Any], world: int) -> int:
    """Images per optimiser step: per-device batch x devices x accumulated micro-batches."""
    return train["batch_size"] * world * train["accumulation_steps"]


def build_lrs(opt: Dict[str, Any], global_batch: int, steps_per_epoch: int, epochs: int
              ) -> np.ndarray:
    """The configured schedule: learning rate of every optimiser step of the run."""
    total = steps_per_epoch * epochs
    lr, warmup_lr, min_lr = scaled_lrs(opt, global_batch)
    return lr_per_step(lr, warmup_lr, min_lr, warmup_steps(opt, steps_per_epoch), total,
                       opt["warmup_prefix"])
