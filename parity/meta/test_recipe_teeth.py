"""The recipe checks have teeth: each recipe bug, injected into ms_acmix.train, is caught by the
check whose expectation comes from the official rule (parity.reference_recipes), not from the
code it checks. Each catch records its margin (inf: caught by an exact comparison)."""
import numpy as np
import pytest

import ms_acmix.train.optim as optim
import ms_acmix.train.schedule as schedule
import ms_acmix.train.step as step
from parity.check_clipping import check_clipping
from parity.check_optimizer import check_optimizer_steps
from parity.check_schedule import check_schedule
from parity.checks import ParityFailure
from parity.fixed_configs import RESNET, SWIN
from parity.report import record_catch
from parity.strategies import ClipCase, ScheduleCase


def caught(bug: str, check, *args) -> None:
    with pytest.raises(AssertionError) as failure:
        check(*args)
    error = failure.value
    record_catch(bug, error.worst_ratio if isinstance(error, ParityFailure) else float("inf"))


def test_every_parameter_decays(monkeypatch):
    """The hidden mutation: biases and 1-D parameters take weight decay in the Swin recipe."""
    original = optim.param_groups

    def decay_everything(model, opt):
        return original(model, {**opt, "no_decay_1d": False, "no_decay_keywords": []})
    monkeypatch.setattr(optim, "param_groups", decay_everything)
    caught("Swin recipe: every parameter decays", check_optimizer_steps, SWIN, "swin")


def test_keywords_ignored(monkeypatch):
    original = optim.param_groups
    monkeypatch.setattr(optim, "param_groups",
                        lambda model, opt: original(model, {**opt, "no_decay_keywords": []}))
    caught("Swin recipe: relative_position_bias_table decays", check_optimizer_steps, SWIN,
           "swin")


def test_resnet_exempts_norms(monkeypatch):
    original = optim.param_groups
    monkeypatch.setattr(optim, "param_groups",
                        lambda model, opt: original(model, {**opt, "no_decay_1d": True}))
    caught("ResNet recipe: 1-D parameters exempt from decay", check_optimizer_steps, RESNET,
           "resnet")


def test_decay_applied_to_the_wrong_group(monkeypatch):
    """The groups are right but build_optimizer swaps their decays: the update check sees it."""
    original = optim.param_groups

    def swapped(model, opt):
        groups = original(model, opt)
        return [{**g, "weight_decay": opt["weight_decay"] - g["weight_decay"]} for g in groups]
    original_build = optim.build_optimizer

    def build(model, opt, lrs):
        monkeypatch.setattr(optim, "param_groups", swapped)
        try:
            return original_build(model, opt, lrs)
        finally:
            monkeypatch.setattr(optim, "param_groups", original)
    monkeypatch.setattr(optim, "build_optimizer", build)
    caught("Swin recipe: decays swapped inside build_optimizer", check_optimizer_steps, SWIN,
           "swin")


def test_schedule_without_the_official_lag(monkeypatch):
    """timm's step_update(t) after step t, taken as if it ran before: one step early."""
    def early(lr, warmup_lr, min_lr, warmup, total, prefix):
        out = np.array([warmup_lr + (lr - warmup_lr) * t / warmup if t < warmup else
                        min_lr + 0.5 * (lr - min_lr) * (1 + np.cos(np.pi * t / total))
                        for t in range(total)])
        return out.astype(np.float32)
    monkeypatch.setattr(schedule, "lr_per_step", early)
    caught("Swin schedule one step early", check_schedule, ScheduleCase("acmix_swin_tiny", 128,
                                                                        8, 5))


def test_schedule_min_lr_not_scaled(monkeypatch):
    original = schedule.scaled_lrs

    def unscaled_min(opt, global_batch):
        lr, warmup_lr, _ = original(opt, global_batch)
        return lr, warmup_lr, opt["min_lr"]
    monkeypatch.setattr(schedule, "scaled_lrs", unscaled_min)
    caught("Swin schedule: min_lr not scaled with the batch", check_schedule,
           ScheduleCase("acmix_swin_tiny", 128, 8, 5))


def test_resnet_warmup_from_zero(monkeypatch):
    original = schedule.scaled_lrs
    monkeypatch.setattr(schedule, "scaled_lrs",
                        lambda opt, batch: (original(opt, batch)[0], 0.0, 0.0))
    caught("ResNet schedule: warm-up from 0 instead of lr/4", check_schedule,
           ScheduleCase("acmix_resnet26", 16, 8, 3))


def test_accumulation_ignored_by_lr_scaling(monkeypatch):
    """The global batch of an optimiser step must count the accumulated micro-batches."""
    monkeypatch.setattr(schedule, "global_batch", lambda train, world: train["batch_size"] * world)
    caught("Swin schedule: accumulation left out of the global batch", check_schedule,
           ScheduleCase("acmix_swin_tiny", 64, 8, 3, accumulation=2))


def test_clipping_per_parameter(monkeypatch):
    """Each gradient clipped to max_norm on its own instead of by the total norm."""
    from mindspore import ops

    def per_parameter(grads, max_norm):
        out = []
        for g in grads:
            coef = ops.minimum(max_norm / (ops.sqrt(ops.sum(ops.square(g))) + 1e-6), 1.0)
            out.append(g * coef)
        return tuple(out)
    monkeypatch.setattr(step, "clip_by_total_norm", per_parameter)
    caught("clipping per parameter", check_clipping, ClipCase(RESNET, 0.25))


def test_clipping_before_unscaling(monkeypatch):
    """Clipping the loss-scaled gradients: the threshold meets gradients 1024x too large."""
    original = step.clip_by_total_norm
    monkeypatch.setattr(step, "clip_by_total_norm",
                        lambda grads, max_norm: original(grads, max_norm / 1024.0))
    caught("clipping before unscaling", check_clipping, ClipCase(SWIN, 0.6))


def test_fixed_cases_pass_unpatched():
    """Without a bug every fixed case above passes, so each catch is the bug's doing."""
    check_optimizer_steps(SWIN, "swin")
    check_optimizer_steps(RESNET, "resnet")
    for case in (ScheduleCase("acmix_swin_tiny", 128, 8, 5),
                 ScheduleCase("acmix_resnet26", 16, 8, 3),
                 ScheduleCase("acmix_swin_tiny", 64, 8, 3, accumulation=2)):
        check_schedule(case)
    check_clipping(ClipCase(RESNET, 0.25))
    check_clipping(ClipCase(SWIN, 0.6))
