"""The training script's learning-rate schedules, built from the recipe config files
(ms_acmix/configs/acmix_swin_*.yaml, ms_acmix/configs/acmix_resnet*.yaml), against the official
schedules of parity.reference_recipes: every optimiser step's learning rate."""

import numpy as np

from acmix_common.tolerance import Comparison, compare

from . import reference_recipes as official
from .checks import ParityFailure
from .report import record
from .strategies import RECIPE_CONFIGS, ScheduleCase



def recipe_of(config: str) -> str:
    return next(r for r, names in RECIPE_CONFIGS.items() if config in names)


def product_lrs(case: ScheduleCase) -> np.ndarray:
    from ms_acmix.train import config as cfgmod
    from ms_acmix.train import schedule

    cfg = cfgmod.build(case.config)
    train = {**cfg["train"], "batch_size": case.batch_per_device,
             "accumulation_steps": case.accumulation}
    return schedule.build_lrs(cfg["optimizer"], schedule.global_batch(train, case.world),
                              case.steps_per_epoch, case.epochs or train["epochs"])


def official_lrs(case: ScheduleCase) -> np.ndarray:
    epochs = {"epochs": case.epochs} if case.epochs else {}
    if recipe_of(case.config) == "swin":
        return official.swin_lrs(case.batch_per_device, case.world, case.steps_per_epoch,
                                 case.accumulation, **epochs)
    return official.resnet_lrs(case.batch_per_device * case.world * case.accumulation,
                               case.steps_per_epoch, **epochs)


def check_schedule(case: ScheduleCase) -> Comparison:
    """Same number of steps; every step's lr within the float32 bound of the official value
    (the product stores float32 learning rates)."""
    got, want = product_lrs(case), official_lrs(case)
    if got.shape != want.shape:
        raise AssertionError(f"schedule {case}: {got.shape[0]} optimiser steps, the official "
                             f"run has {want.shape[0]}")
    # elementwise: the warm-up start (5e-7) must not hide behind the peak's scale
    result = compare(got / want, np.ones_like(want), "float32", "forward")
    record("lr schedule", case, result)
    if not result.ok:
        worst = int(np.argmax(np.abs(got / want - 1)))
        raise ParityFailure(f"schedule {case}: step {worst} lr {got[worst]:.6g}, official "
                            f"{want[worst]:.6g} (relative {result})", {"lr": result})
    return result
