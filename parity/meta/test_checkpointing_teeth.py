"""The checkpointing checks have teeth: each way checkpointing goes wrong, injected, is caught by
the check parity/test_grad_checkpointing.py runs, with its detection margin (error / bound) in
the run's teeth summary."""
import contextlib
import dataclasses

from torch import nn
from torch.utils.checkpoint import checkpoint

import ms_acmix.models.resnet
import torch_ref.models.resnet
import torch_ref.models.swin
from parity.check_checkpointing import check_checkpointed_gradients, check_torch_checkpointing
from parity.fixed_configs import RESNET, SWIN
from parity.meta.test_teeth import caught
from parity.strategies import drop_path_configs, model_configs
from torch_ref.models.checkpointing import _running_stats_kept, checkpointing_active

DROP = 0.3
RESNET_DROP = dataclasses.replace(RESNET, kwargs={**RESNET.kwargs, "drop_path_rate": DROP})
SWIN_DROP = dataclasses.replace(SWIN, kwargs={**SWIN.kwargs, "drop_path_rate": DROP})
RESNET_TWO_BLOCKS = dataclasses.replace(RESNET, kwargs={**RESNET.kwargs, "layers": (1, 2, 1, 1)})
RESNET_MODELS = model_configs(names=["acmix_resnet26"])
DROPPED_MODELS = drop_path_configs().filter(lambda c: c.kwargs["drop_path_rate"] > 0)


def _patch_torch_checkpointed(monkeypatch, fn) -> None:
    for module in (torch_ref.models.resnet, torch_ref.models.swin):
        monkeypatch.setattr(module, "checkpointed", fn)


def test_mindspore_plain_recompute_updates_batch_norm_statistics_twice(monkeypatch):
    """``Cell.recompute()`` as MindSpore documents it, without ms_acmix's BatchNorm handling."""
    monkeypatch.setattr(ms_acmix.models.resnet, "set_recompute",
                        lambda block, enable: block.recompute() if enable else None)
    caught("MindSpore recompute updates BatchNorm statistics twice",
           check_checkpointed_gradients, [RESNET], RESNET_MODELS)


def test_torch_replay_draws_new_drop_path_masks(monkeypatch):
    def without_rng_state(block, *args):
        return checkpoint(block, *args, use_reentrant=False, preserve_rng_state=False,
                          context_fn=lambda: (contextlib.nullcontext(),
                                              _running_stats_kept(block)))

    _patch_torch_checkpointed(monkeypatch, without_rng_state)
    caught("torch checkpoint replay draws new drop-path masks", check_torch_checkpointing,
           [RESNET_DROP, SWIN_DROP], DROPPED_MODELS)


def test_torch_plain_checkpoint_updates_running_statistics_twice(monkeypatch):
    _patch_torch_checkpointed(monkeypatch,
                              lambda block, *args: checkpoint(block, *args, use_reentrant=False))
    caught("torch checkpoint updates running statistics twice", check_torch_checkpointing,
           [RESNET], RESNET_MODELS)


def test_torch_checkpointed_stage_skips_a_block(monkeypatch):
    def skipping_last_block(self, stage, x):
        if isinstance(stage, nn.Sequential) and checkpointing_active(self):
            for block in list(stage)[:-1] if len(stage) > 1 else stage:
                x = torch_ref.models.resnet.checkpointed(block, x)
            return x
        return stage(x)

    monkeypatch.setattr(torch_ref.models.resnet.ACmixResNet, "_stage", skipping_last_block)
    caught("torch checkpointed stage skips a block", check_torch_checkpointing,
           [RESNET_TWO_BLOCKS])


def test_the_same_checks_pass_without_a_bug():
    check_checkpointed_gradients(RESNET)
    check_torch_checkpointing(RESNET_DROP)
    check_torch_checkpointing(SWIN_DROP)
    check_torch_checkpointing(RESNET_TWO_BLOCKS)
