"""MindSpore helpers of the backbone API (``acmix_common.features``)."""
from mindspore import nn
from mindspore.ops import constexpr

from acmix_common.features import intermediates_plan

# forward_intermediates' plan as a GRAPH-mode constant: worked out in Python at compile time
# from the constant arguments, as PYNATIVE does.
plan_intermediates = constexpr(intermediates_plan)


def replace_cell(model: nn.Cell, attr: str, cell: nn.Cell) -> None:
    """``model.<attr> = cell``, its parameters named as ``model``'s own are (with the prefix of
    any Cell ``model`` sits in): MindSpore names them when a Cell is built, not when it is set."""
    key, anchor = next(iter(model.parameters_and_names()))
    outer = anchor.name[:len(anchor.name) - len(key)]
    setattr(model, attr, cell)
    for name, param in cell.parameters_and_names():
        param.name = f"{outer}{attr}.{name}"
