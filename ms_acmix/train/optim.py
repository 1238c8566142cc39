"""Optimisers of the official recipes and their weight-decay groups.

``sgd``: ``nn.Momentum`` = torch.optim.SGD with momentum (buf = mu*buf + g + wd*p; p -= lr*buf).
``adamw``: :class:`AdamW` below = torch.optim.AdamW (decoupled decay, bias-corrected moments);
MindSpore's ``nn.AdamWeightDecay`` has no bias correction, so it is not used.
"""
from typing import Any, Dict, List, Sequence

import numpy as np
from mindspore import Tensor, nn, ops
from mindspore import dtype as mstype
from mindspore.ops import composite as C

_adamw_update = C.MultitypeFuncGraph("adamw_update")


@_adamw_update.register("Tensor", "Tensor", "Tensor", "Tensor", "Tensor", "Tensor", "Tensor",
                        "Tensor", "Tensor", "Tensor", "Tensor", "Tensor", "Tensor")
def _update(beta1, one_minus_beta1, beta2, one_minus_beta2, eps, lr, bc1, bc2, weight_decay, param,
            m, v, grad):
    """One torch-AdamW step of one parameter (float32 state)."""
    grad = ops.cast(grad, mstype.float32)
    p32 = ops.cast(param, mstype.float32)
    p32 = p32 - lr * weight_decay * p32
    next_m = beta1 * m + one_minus_beta1 * grad
    next_v = beta2 * v + one_minus_beta2 * ops.square(grad)
    denom = ops.sqrt(next_v) / ops.sqrt(bc2) + eps
    p32 = p32 - (lr / bc1) * next_m / denom
    ops.assign(m, next_m)
    ops.assign(v, next_v)
    ops.assign(param, ops.cast(p32, param.dtype))
    return True


def bias_corrections(betas: Sequence[float], steps: int) -> np.ndarray:
    """(steps, 2) float32: 1 - beta1^t and 1 - beta2^t for t = 1..steps, computed in float64
    as torch does (in float32, 1 - 0.999 alone is 1.3e-5 off)."""
    t = np.arange(1, steps + 1, dtype=np.float64)[:, None]
    return (1.0 - np.asarray(betas, np.float64)[None, :] ** t).astype(np.float32)


class AdamW(nn.Optimizer):
    """torch.optim.AdamW semantics with per-group weight decay and a per-step learning rate
    (a 1-D ``learning_rate``: one entry per step, which also sizes the bias-correction table).

    As torch: 1 - beta is taken from the float64 beta, and the bias corrections 1 - beta^t
    are float64 values rounded once (a table indexed by the global step)."""

    def __init__(self, params, learning_rate, betas: Sequence[float] = (0.9, 0.999),
                 eps: float = 1e-8):
        shape = tuple(getattr(learning_rate, "shape", np.shape(learning_rate)))
        steps = shape[0] if len(shape) == 1 else 0
        if steps < 1:
            raise ValueError("AdamW needs the per-step learning rates (a 1-D array): they size "
                             "the bias-correction table")
        super().__init__(learning_rate, params, weight_decay=0.0)
        self.beta1 = Tensor(betas[0], mstype.float32)
        self.beta2 = Tensor(betas[1], mstype.float32)
        self.one_minus_beta1 = Tensor(1.0 - float(betas[0]), mstype.float32)
        self.one_minus_beta2 = Tensor(1.0 - float(betas[1]), mstype.float32)
        self.eps = Tensor(eps, mstype.float32)
        self.bias_corrections = Tensor(bias_corrections(betas, steps))
        self.moments1 = self._parameters.clone(prefix="adamw_m", init="zeros")
        self.moments2 = self._parameters.clone(prefix="adamw_v", init="zeros")
        self.hyper_map = C.HyperMap()
        decay = self.group_weight_decay if self.is_group else [0.0] * len(self._parameters)
        self.decays = tuple(Tensor(float(w), mstype.float32) for w in decay)

    def construct(self, gradients):
        lr = self.get_lr()
        bc = ops.gather(self.bias_corrections, self.global_step, 0).reshape(-1)
        self.assignadd(self.global_step, self.global_step_increase_tensor)
        return self.hyper_map(
            ops.partial(_adamw_update, self.beta1, self.one_minus_beta1, self.beta2,
                        self.one_minus_beta2, self.eps, lr, bc[0], bc[1]),
            self.decays, self._parameters, self.moments1, self.moments2, gradients)


def param_groups(model: nn.Cell, opt: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Two groups, with and without weight decay.

    Without decay: (no_decay_1d) every 1-D parameter and every ``.bias``, and every name holding
    one of ``no_decay_keywords`` (the Swin recipe's relative_position_bias_table).
    """
    decay, no_decay = [], []
    for param in model.trainable_params():
        one_d = len(param.shape) <= 1 or param.name.endswith(".bias")
        keyword = any(k in param.name for k in opt["no_decay_keywords"])
        (no_decay if (opt["no_decay_1d"] and one_d) or keyword else decay).append(param)
    groups = []
    if decay:
        groups.append({"params": decay, "weight_decay": opt["weight_decay"]})
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return groups


def build_optimizer(model: nn.Cell, opt: Dict[str, Any], lrs: np.ndarray) -> nn.Optimizer:
    """The configured optimiser over ``model``'s trainable parameters, lr indexed by global step."""
    groups = param_groups(model, opt)
    learning_rate = Tensor(lrs, mstype.float32)
    if opt["name"] == "adamw":
        return AdamW(groups, learning_rate, betas=opt["betas"], eps=opt["eps"])
    return nn.Momentum(groups, learning_rate, momentum=opt["momentum"],
                       use_nesterov=opt["nesterov"])
