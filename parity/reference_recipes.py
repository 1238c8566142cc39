"""The official training recipes, written from LeapLabTHU/ACmix and timm, independently of
``ms_acmix.train`` (nothing here imports it): what the recipe checks expect.

- Swin (Swin-Transformer/optimizer.py ``set_weight_decay``): no weight decay for every 1-D
  parameter, every name ending in ``.bias``, the names in the model's ``no_weight_decay()`` and
  the names holding a keyword of ``no_weight_decay_keywords()``; AdamW for the rest.
- ResNet (ResNet/main.py): ``torch.optim.SGD(model.parameters(), ...)``: decay on everything.
- Learning rates: timm's ``CosineLRScheduler`` as Swin-Transformer/lr_scheduler.py builds it
  (per iteration, ``t_in_epochs=False``) and as Swin-Transformer/main.py drives it
  (``step_update(epoch * num_steps + idx)`` after each optimiser step), after main.py's linear
  scaling by total batch / 512 (times ACCUMULATION_STEPS); ResNet/main.py's
  ``adjust_learning_rate_iter_warmup`` ('cosine'), set before each step.
- Gradient clipping: ``torch.nn.utils.clip_grad_norm_`` over all parameters (one total norm).
"""
import math
from typing import Dict, List

import numpy as np
import torch

# Swin-Transformer/config.py defaults (the ACmix-Swin yaml files change only the model).
OFFICIAL_SWIN = dict(base_lr=5e-4, warmup_lr=5e-7, min_lr=5e-6, warmup_epochs=20, epochs=300,
                     weight_decay=0.05, betas=(0.9, 0.999), eps=1e-8, clip_grad=5.0,
                     lr_batch=512)
# ResNet/main.py defaults; the README trains with a total batch of 128, the batch lr 0.1 is for.
OFFICIAL_RESNET = dict(lr=0.1, epochs=90, warmup_epochs=5, weight_decay=1e-4, momentum=0.9,
                       lr_batch=128)


def swin_weight_decay(model: torch.nn.Module, weight_decay: float = OFFICIAL_SWIN["weight_decay"]
                      ) -> Dict[str, float]:
    """Parameter name -> weight decay under the Swin rule (frozen parameters are left out)."""
    skip = model.no_weight_decay() if hasattr(model, "no_weight_decay") else set()
    keywords = (model.no_weight_decay_keywords()
                if hasattr(model, "no_weight_decay_keywords") else set())
    decay = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        exempt = (param.dim() == 1 or name.endswith(".bias") or name in skip
                  or any(word in name for word in keywords))
        decay[name] = 0.0 if exempt else weight_decay
    return decay


def resnet_weight_decay(model: torch.nn.Module,
                        weight_decay: float = OFFICIAL_RESNET["weight_decay"]) -> Dict[str, float]:
    """Parameter name -> weight decay under the ResNet rule: the same decay for every one."""
    return {name: weight_decay for name, _ in model.named_parameters()}


def torch_optimizer(recipe: str, model: torch.nn.Module, lr: float) -> torch.optim.Optimizer:
    """The recipe's torch.optim optimiser over ``model``, its groups from the official rule."""
    if recipe == "swin":
        groups: Dict[float, List[torch.nn.Parameter]] = {}
        params = dict(model.named_parameters())
        for name, wd in swin_weight_decay(model).items():
            groups.setdefault(wd, []).append(params[name])
        return torch.optim.AdamW([{"params": ps, "weight_decay": wd} for wd, ps in groups.items()],
                                 lr=lr, betas=OFFICIAL_SWIN["betas"], eps=OFFICIAL_SWIN["eps"])
    if recipe == "resnet":
        return torch.optim.SGD(model.parameters(), lr, momentum=OFFICIAL_RESNET["momentum"],
                               weight_decay=OFFICIAL_RESNET["weight_decay"])
    raise ValueError(f"recipe={recipe!r} is not 'swin' or 'resnet'")


class CosineLRScheduler:
    """timm's CosineLRScheduler with one cycle (cycle_mul 1, cycle_limit 1, no noise,
    k_decay 1), acting on a torch optimiser's param_groups as timm's Scheduler does."""

    def __init__(self, optimizer: torch.optim.Optimizer, t_initial: int, lr_min: float = 0.0,
                 warmup_t: int = 0, warmup_lr_init: float = 0.0, warmup_prefix: bool = False,
                 t_in_epochs: bool = True):
        self.optimizer = optimizer
        for group in optimizer.param_groups:  # Scheduler(initialize=True)
            group.setdefault("initial_lr", group["lr"])
        self.base_values = [group["initial_lr"] for group in optimizer.param_groups]
        self.t_initial, self.lr_min = t_initial, lr_min
        self.warmup_t, self.warmup_lr_init = warmup_t, warmup_lr_init
        self.warmup_prefix, self.t_in_epochs = warmup_prefix, t_in_epochs
        if warmup_t:
            self.warmup_steps = [(v - warmup_lr_init) / warmup_t for v in self.base_values]
            self._update_groups([warmup_lr_init] * len(self.base_values))
        else:
            self.warmup_steps = [1.0 for _ in self.base_values]

    def _get_lr(self, t: int) -> List[float]:
        if t < self.warmup_t:
            return [self.warmup_lr_init + t * s for s in self.warmup_steps]
        if self.warmup_prefix:
            t = t - self.warmup_t
        cycle = t // self.t_initial
        t_curr = t - self.t_initial * cycle
        if cycle >= 1:  # past cycle_limit = 1
            return [self.lr_min for _ in self.base_values]
        return [self.lr_min + 0.5 * (v - self.lr_min) * (1 + math.cos(math.pi * t_curr
                                                                      / self.t_initial))
                for v in self.base_values]

    def _update_groups(self, values: List[float]) -> None:
        for group, value in zip(self.optimizer.param_groups, values):
            group["lr"] = value

    def step_update(self, num_updates: int) -> None:
        if not self.t_in_epochs:
            self._update_groups(self._get_lr(num_updates))


def swin_scaled_lrs(batch_per_device: int, world: int, accumulation: int = 1) -> Dict[str, float]:
    """Swin-Transformer/main.py: base, warm-up and minimum lr times batch x world / 512, then
    times ACCUMULATION_STEPS when it is above 1."""
    factor = batch_per_device * world / float(OFFICIAL_SWIN["lr_batch"])
    if accumulation > 1:
        factor *= accumulation
    return {k: OFFICIAL_SWIN[k] * factor for k in ("base_lr", "warmup_lr", "min_lr")}


def swin_lrs(batch_per_device: int, world: int, steps_per_epoch: int, accumulation: int = 1,
             epochs: int = OFFICIAL_SWIN["epochs"]) -> np.ndarray:
    """The lr every optimiser step of an official Swin run takes (float64), read from the
    optimiser's param group before the step, as main.py's loop leaves it."""
    lrs = swin_scaled_lrs(batch_per_device, world, accumulation)
    holder = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.AdamW([holder], lr=lrs["base_lr"])
    num_steps = int(epochs * steps_per_epoch)
    scheduler = CosineLRScheduler(optimizer, t_initial=num_steps, lr_min=lrs["min_lr"],
                                  warmup_t=int(OFFICIAL_SWIN["warmup_epochs"] * steps_per_epoch),
                                  warmup_lr_init=lrs["warmup_lr"], t_in_epochs=False)
    taken = []
    for epoch in range(epochs):
        for idx in range(steps_per_epoch):
            taken.append(optimizer.param_groups[0]["lr"])
            scheduler.step_update(epoch * steps_per_epoch + idx)
    return np.array(taken, dtype=np.float64)


def resnet_lrs(global_batch: int, steps_per_epoch: int,
               epochs: int = OFFICIAL_RESNET["epochs"]) -> np.ndarray:
    """ResNet/main.py 'cosine' with iteration warm-up, for lr 0.1 scaled linearly from the
    README's total batch of 128 (at 128 it is the official lr exactly)."""
    lr = OFFICIAL_RESNET["lr"] * global_batch / OFFICIAL_RESNET["lr_batch"]
    warm = OFFICIAL_RESNET["warmup_epochs"]
    out = []
    for epoch in range(epochs):
        for step in range(steps_per_epoch):
            if epoch < warm:
                out.append(lr / 4 + 3 * lr / 4 * float(1 + step + epoch * steps_per_epoch)
                           / (warm * float(steps_per_epoch)))
            else:
                out.append(0.5 * lr * (1 + math.cos(
                    math.pi * float((epoch - warm) * steps_per_epoch + step)
                    / float((epochs - warm) * steps_per_epoch))))
    return np.array(out, dtype=np.float64)


def clip_grad_norm(model: torch.nn.Module, max_norm: float) -> float:
    """torch's clip_grad_norm_ over all of ``model``'s parameters; returns the total norm."""
    return float(torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm, norm_type=2.0))

