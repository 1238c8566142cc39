"""Gradient checkpointing keeps the training step's numbers: MindSpore with
``set_grad_checkpointing(True)`` against the float64 PyTorch reference without it (train mode:
batch statistics, gradients and the running statistics after the step), and PyTorch with it
against PyTorch without it, drop path on (the replay must draw the same masks)."""
import copy
from typing import Dict

import numpy as np
import torch

import torch_ref
from acmix_common.name_map import ms_to_torch
from acmix_common.tolerance import compare
from torch_ref.models.testing import draw_weights_

from .checks import against, verdict
from .strategies import ModelConfig
from .twins import build, draw_cotangent, draw_input, ms_grads, reference

RUNNING = ("running_mean", "running_var")


def _train_step(model, inputs, dtype) -> Dict[str, np.ndarray]:
    """A training step's gradients of sum(out * cotangent) (input and every parameter) and the
    running statistics after it; a copy of ``model`` runs it."""
    model = copy.deepcopy(model).to(dtype).train()
    inp = torch.from_numpy(inputs["x"]).to(dtype).requires_grad_(True)
    (model(inp) * torch.from_numpy(inputs["cotangent"]).to(dtype)).sum().backward()
    out = {"input": inp.grad.double().numpy()}
    out.update({n: p.grad.double().numpy() for n, p in model.named_parameters()})
    out.update({n: b.double().numpy() for n, b in model.named_buffers() if n.endswith(RUNNING)})
    return out


def _train_input(config: ModelConfig) -> np.ndarray:
    # batch statistics need more than one value per channel, also at a 1x1 last stage
    return draw_input(config, (max(2, config.input_shape[0]),) + tuple(config.input_shape[1:]))


def check_checkpointed_gradients(config: ModelConfig, graph: bool = False):
    """MindSpore, checkpointing on, against PyTorch float64 (off) under the reference error
    model: gradients as ``check_gradients`` bounds them, running statistics as forward results.
    ``config`` must draw no dropout or drop path (the frameworks' random streams differ)."""
    check = "checkpointed gradients GRAPH" if graph else "checkpointed gradients"
    t_model, m_model = build(config)
    m_model.set_grad_checkpointing(True)
    m_model.set_train(True)
    x = _train_input(config)
    cotangent = draw_cotangent(t_model, x, config.seed + 1)
    inputs = dict(x=x, cotangent=cotangent)
    ref64, noise = reference(_train_step, t_model, inputs, config.seed)
    stats = {k for k in ref64 if k.endswith(RUNNING)}
    grads = {k: v for k, v in ref64.items() if k not in stats}
    actual = ms_grads(m_model, x, cotangent, graph)
    actual_stats = {ms_to_torch(n): p.asnumpy().astype(np.float64)
                    for n, p in m_model.parameters_and_names()
                    if n.endswith(("moving_mean", "moving_variance"))}
    context = max(float(np.abs(g).max()) for g in grads.values())
    results = against(actual, grads, noise, context, "grad")
    results.update(against(actual_stats, {k: ref64[k] for k in stats}, noise))
    return verdict(check, config, results, inputs)


def _torch_step(model, x, cotangent, seed: int) -> Dict[str, np.ndarray]:
    torch.manual_seed(seed)
    inp = torch.from_numpy(x).requires_grad_(True)
    out = model(inp)
    (out * torch.from_numpy(cotangent)).sum().backward()
    result = {"output": out.detach().double().numpy(), "input": inp.grad.double().numpy()}
    # a parameter the step never reached has a zero gradient
    result.update({n: (p.grad if p.grad is not None else torch.zeros_like(p)).double().numpy()
                   for n, p in model.named_parameters()})
    result.update({n: b.double().numpy() for n, b in model.named_buffers()
                   if n.endswith(RUNNING + ("num_batches_tracked",))})
    return result


def check_torch_checkpointing(config: ModelConfig):
    """PyTorch float32, checkpointing on against off, the same seeded step (drop path draws
    included): two float32 results of one function, so the product's direct comparison
    (``acmix_common.tolerance``: 'grad' for gradients, 'forward' for outputs and statistics)."""
    torch.manual_seed(config.seed)
    base = torch_ref.create_model(config.name, **config.kwargs, **config.attn_impl_kwargs("torch"))
    draw_weights_(base, config.seed)
    x = _train_input(config)
    cotangent = draw_cotangent(base, x, config.seed + 1)
    steps = []
    for on in (False, True):
        model = copy.deepcopy(base).train()
        model.set_grad_checkpointing(on)
        steps.append(_torch_step(model, x, cotangent, config.seed + 2))
    off, on = steps
    if set(on) != set(off):
        raise AssertionError(f"results differ in name: {sorted(set(on) ^ set(off))}")
    forward = {"output"} | {k for k in off if k.endswith(RUNNING + ("num_batches_tracked",))}
    results = {k: compare(on[k], off[k], kind="forward" if k in forward else "grad")
               for k in off}
    return verdict("torch checkpointing on against off", config, results,
                   dict(x=x, cotangent=cotangent))
