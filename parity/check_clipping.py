"""The training step's gradient clipping (ms_acmix.train.step.TrainStep: loss-scale round trip,
all-reduce, overflow check, total-norm clipping) against ``torch.nn.utils.clip_grad_norm_`` over
all parameters, both handed the same float32 gradients (a model's real gradients, drawn): the
clipping couples every gradient through one norm, so each framework's own gradient roundoff
would otherwise spread to all of them (gradients have their own check)."""
import copy
from typing import Dict

import mindspore as ms
import numpy as np
import torch
from mindspore import Parameter, ParameterTuple, Tensor, nn, ops

from acmix_common.name_map import ms_to_torch
from acmix_common.tolerance import Comparison

from . import reference_recipes as official
from .checks import against, verdict
from .strategies import ClipCase
from .twins import build, draw_cotangent, draw_input, reference, torch_grads

LOSS_SCALE = 1024.0  # a static loss scale: the step must unscale before it clips


class GivenGradients(nn.Cell):
    """loss = sum_i <p_i, G_i>: its gradient for parameter i is G_i, exactly."""

    def __init__(self, params, grads):
        super().__init__(auto_prefix=False)
        self.params = ParameterTuple(params)
        self.grads = tuple(Tensor(g) for g in grads)

    def construct(self, images, targets):
        loss = ops.zeros((), ms.float32)
        for p, g in zip(self.params, self.grads):
            loss = loss + ops.sum(p * g)
        return loss


class GradRecorder(nn.Optimizer):
    """An 'optimiser' that stores the gradients it is handed: what the step would apply."""

    def __init__(self, params):
        super().__init__(0.0, params)
        self.seen = ParameterTuple([Parameter(Tensor(np.zeros(p.shape, np.float32)),
                                              name="seen." + p.name, requires_grad=False)
                                    for p in self._parameters])

    def construct(self, gradients):
        return self.hyper_map(ops.assign, self.seen, gradients)


def _clipped(max_norm: float):
    def compute(model, grads, dtype) -> Dict[str, np.ndarray]:
        model = copy.deepcopy(model).to(dtype)
        for name, p in model.named_parameters():
            p.grad = torch.from_numpy(grads[name]).to(dtype)
        official.clip_grad_norm(model, max_norm)
        return {n: p.grad.double().numpy() for n, p in model.named_parameters()}
    return compute


def check_clipping(case: ClipCase) -> Dict[str, Comparison]:
    from ms_acmix.train.step import TrainStep

    config = case.model
    t_model, m_model = build(config)
    x = draw_input(config)
    cotangent = draw_cotangent(t_model, x, config.seed + 3)
    grads = {n: g.astype(np.float32) for n, g in torch_grads(t_model, x, cotangent).items()
             if n != "input"}
    total = float(np.sqrt(sum(float((g.astype(np.float64) ** 2).sum()) for g in grads.values())))
    max_norm = case.norm_fraction * total
    params = m_model.trainable_params()
    recorder = GradRecorder(params)
    net = GivenGradients(params, [grads[ms_to_torch(p.name)] for p in params])
    step = TrainStep(net, recorder, Tensor(LOSS_SCALE, ms.float32), max_norm)
    _, overflow, _ = step(Tensor(x), Tensor(cotangent))
    if overflow.asnumpy():
        raise AssertionError(f"clipping {case}: the step reported an overflow on finite gradients")
    actual = {ms_to_torch(p.name[len("seen."):]): p.asnumpy().astype(np.float64)
              for p in recorder.seen}
    ref64, noise = reference(_clipped(max_norm), t_model, grads, config.seed)
    return verdict("clipped gradients", case, against(actual, ref64, noise),
                   dict(x=x, cotangent=cotangent))
