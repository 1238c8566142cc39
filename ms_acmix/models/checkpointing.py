"""Gradient checkpointing of one block through ``Cell.recompute`` (MindSpore 2.10), as
``torch_ref.models.checkpointing`` does in PyTorch: the block's activations are dropped after the
forward and recomputed in the backward, with the same gradients and running statistics.

What ``Cell.recompute`` does differs by mode (measured on MindSpore 2.10, CPU):

- PYNATIVE: ``use_reentrant=False`` replays the block's Python ``construct`` in the backward
  through saved-tensor hooks. It restores the default generator's state for the replay, but
  ``nn.Dropout`` (and ``DropPath``, built on it) draws from its primitive's own seeded kernel
  state, which moves on: the replay draws new masks and the gradient belongs to other masks.
  (``use_reentrant=True`` happens to replay them, because its forward and its replay run in two
  kernel instances that advance in step, until one forward runs outside the gradient; and it
  cannot run the context below.) No dropout on the CPU draws from the restorable generator, and
  a fresh seeded primitive each step grows PYNATIVE's kernel cache by ~60 KB a step. So a
  checkpointed block with active dropout or drop path raises in PYNATIVE (GRAPH is correct).
  ``context_fn``'s second context runs around the replay; in it each BatchNorm trains through a
  twin primitive of momentum 0, which normalises by the batch statistics and leaves the moving
  ones as they are (a plain ``recompute()`` updates them twice, in both modes: momentum 0.1
  becomes 0.19). Primitive recompute flags have no effect in PYNATIVE.
- GRAPH: the cell's scope is marked ``recompute_`` and the compiler duplicates the marked forward
  nodes into the backward graph; ``context_fn`` is ignored. Random ops come out with the forward's
  masks (checked with a forward run outside the gradient in between). ``Primitive.recompute(False)``
  on each BatchNorm's training primitive keeps that node (and its moving-statistics update) out of
  the recomputation; its output is stored instead. The marks are read when a graph is compiled:
  set checkpointing before the first compiled call (a compiled graph keeps what it was built
  with).

``Cell.recompute`` may be configured only once and MindSpore has no inverse; ``set_recompute(cell,
False)`` undoes what it set (the recompute wrapper, the configured flag, the ``recompute_`` scope
prefix and the ``output_recompute`` flag, on the cell and every cell under it).
"""
import contextlib
from typing import Iterator, List

from mindspore import nn, ops
from mindspore.graph.api import _pynative_executor

_SCOPE = "recompute_"
_FROZEN = "_frozen_stats_bn_train"  # the momentum-0 twin of a BatchNorm's bn_train


def _norms(block: nn.Cell) -> List[nn.Cell]:
    return [c for _, c in block.cells_and_names()
            if isinstance(c, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d))]


def dropout_cells(model: nn.Cell, active_only: bool = False) -> List[str]:
    """Names of the ``nn.Dropout`` cells (``DropPath`` included) inside recomputed blocks of
    ``model``: those with a rate above 0, or (``active_only``) those that draw now (training)."""
    found = []
    for prefix, block in model.cells_and_names():
        if not recompute_enabled(block):
            continue
        for name, c in block.cells_and_names():
            if (isinstance(c, nn.Dropout) and c.keep_prob != 1 and c.p != 0
                    and (c.training or not active_only)):
                found.append(f"{prefix}.{name}" if prefix else name)
    return found


def pynative_dropout_error(names: List[str]) -> ValueError:
    return ValueError(
        f"grad checkpointing in PYNATIVE mode with dropout or drop path ({', '.join(names[:3])}"
        f"{', ...' if len(names) > 3 else ''}): MindSpore 2.10's recomputation draws new masks "
        "there, so the gradients would be wrong; use GRAPH mode (train.mode: graph, or ms.jit), "
        "set the drop rates to 0, or leave checkpointing off")


def _contexts(block: nn.Cell):
    """context_fn of a PYNATIVE checkpointed block: (around the forward, around the replay)."""
    active = dropout_cells(block, active_only=True)
    if active:
        _pynative_executor.clear_res()  # the gradient being recorded is abandoned
        raise pynative_dropout_error(active)
    return contextlib.nullcontext(), _moving_stats_kept(block)


@contextlib.contextmanager
def _moving_stats_kept(block: nn.Cell) -> Iterator[None]:
    """PYNATIVE replay: every BatchNorm trains with a momentum-0 primitive (moving statistics
    times 1 plus batch statistics times 0: unchanged)."""
    norms = _norms(block)
    kept = [bn.bn_train for bn in norms]
    for bn in norms:
        bn.bn_train = getattr(bn, _FROZEN)
    try:
        yield
    finally:
        for bn, prim in zip(norms, kept):
            bn.bn_train = prim


def recompute_enabled(block: nn.Cell) -> bool:
    return block._recompute_cell is not None  # pylint: disable=protected-access


def set_recompute(block: nn.Cell, enable: bool) -> None:
    """Recompute ``block``'s activations in the backward (``enable``), or stop doing so."""
    if bool(enable) == recompute_enabled(block):
        return
    if enable:
        block.recompute(use_reentrant=False, context_fn=lambda: _contexts(block))
        for bn in _norms(block):
            bn.bn_train.recompute(False)
            setattr(bn, _FROZEN, ops.BatchNorm(is_training=True, epsilon=bn.eps, momentum=0.0,
                                               data_format=bn.format))
        return
    # pylint: disable=protected-access
    block._recompute_cell = None
    for _, cell in block.cells_and_names():
        cell._has_config_recompute = False
        if cell._scope is not None and cell._scope.startswith(_SCOPE):
            cell._scope = cell._scope[len(_SCOPE):] or None
        getattr(cell, "_func_graph_flags", {}).pop("output_recompute", None)
        cell.__dict__.pop("output_recompute", None)
    for bn in _norms(block):
        if "recompute" in bn.bn_train.attrs:
            bn.bn_train.del_prim_attr("recompute")
