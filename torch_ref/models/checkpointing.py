"""Gradient checkpointing of one block (timm's ``set_grad_checkpointing``): the block's
activations are dropped after the forward and recomputed in the backward.

``torch.utils.checkpoint`` with ``use_reentrant=False`` replays the forward with the RNG state of
the first run (the same dropout and drop-path draws). Beyond timm, the replay leaves BatchNorm's
running statistics alone: a plain checkpoint updates them a second time (momentum 0.1 becomes an
effective 0.19), so a checkpointed run would evaluate differently from the official one.
"""
import contextlib
from typing import Iterator

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint


def checkpointing_active(module: nn.Module) -> bool:
    """Whether ``module`` (with a ``grad_checkpointing`` flag) checkpoints this call: only when
    training with grad enabled, as timm does (eval and no-grad forwards keep nothing anyway)."""
    return module.grad_checkpointing and module.training and torch.is_grad_enabled()


@contextlib.contextmanager
def _running_stats_kept(block: nn.Module) -> Iterator[None]:
    """Whatever the replay does to BatchNorm's running statistics and ``num_batches_tracked``
    is undone when it ends (the replay must save the same tensors as the first run, so the
    layers run unchanged)."""
    stats = [t for m in block.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
             for t in (m.running_mean, m.running_var, m.num_batches_tracked) if t is not None]
    kept = [t.clone() for t in stats]
    try:
        yield
    finally:
        with torch.no_grad():
            for t, value in zip(stats, kept):
                t.copy_(value)


def checkpointed(block: nn.Module, *args: torch.Tensor) -> torch.Tensor:
    """``block(*args)`` with its activations recomputed in the backward."""
    return checkpoint(block, *args, use_reentrant=False, preserve_rng_state=True,
                      context_fn=lambda: (contextlib.nullcontext(), _running_stats_kept(block)))
