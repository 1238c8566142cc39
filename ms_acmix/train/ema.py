"""Exponential moving average of the model weights, timm's ModelEmaV2 semantics.

A second model of the same architecture holds the average. It starts as a copy of the model
(after any pretrained weights are loaded); after every optimiser step each of its parameters and
buffers (BatchNorm moving statistics included) becomes ``decay * ema + (1 - decay) * model``.
Its parameters are named ``ema.<model name>``: the name the converter's ``--ema`` reads in a
MindSpore checkpoint that holds both.
"""
from typing import Dict

import mindspore as ms
from mindspore import ParameterTuple, Tensor, nn, ops
from mindspore import dtype as mstype
from mindspore.ops import composite as C

PREFIX = "ema."

_ema_update = C.MultitypeFuncGraph("ema_update")


@_ema_update.register("Tensor", "Tensor", "Tensor", "Tensor")
def _update(decay, one_minus_decay, ema, value):
    mixed = decay * ops.cast(ema, mstype.float32) + one_minus_decay * ops.cast(value,
                                                                             mstype.float32)
    return ops.assign(ema, ops.cast(mixed, ema.dtype))


def model_values(model: nn.Cell) -> Dict[str, ms.Parameter]:
    """Every float parameter and buffer of ``model`` by name (what ModelEmaV2 averages)."""
    return {p.name: p for p in model.get_parameters() if p.dtype in (ms.float32, ms.float16)}


class ModelEma(nn.Cell):
    """``ema_model`` follows ``model``; call the cell after each optimiser step."""

    def __init__(self, model: nn.Cell, ema_model: nn.Cell, decay: float):
        super().__init__(auto_prefix=False)
        if not 0.0 < decay < 1.0:
            raise ValueError(f"train.ema_decay={decay} must be in (0, 1) (0 turns EMA off)")
        source = model_values(model)
        target = model_values(ema_model)
        if set(source) != set(target):
            raise ValueError("the EMA model's parameters do not match the model's")
        for name, p in target.items():
            p.name = PREFIX + name
            p.requires_grad = False
        names = sorted(source)
        self.model_params = ParameterTuple([source[n] for n in names])
        self.ema_params = ParameterTuple([target[n] for n in names])
        self.decay = Tensor(decay, mstype.float32)
        self.one_minus_decay = Tensor(1.0 - decay, mstype.float32)
        self.hyper_map = C.HyperMap()
        self.copy_from_model()

    def copy_from_model(self) -> None:
        """ema := model (ModelEmaV2's deepcopy at creation)."""
        for ema, value in zip(self.ema_params, self.model_params):
            ema.set_data(value.data.copy())

    def construct(self):
        return self.hyper_map(ops.partial(_ema_update, self.decay, self.one_minus_decay),
                              self.ema_params, self.model_params)
