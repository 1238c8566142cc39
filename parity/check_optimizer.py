"""The training script's optimisers and weight-decay groups, built from the recipe config files,
against torch.optim built from the official rules (parity.reference_recipes).

Two verdicts: (1) group membership by name: which parameters take weight decay, and how much,
must equal the official rule exactly; (2) ``steps`` updates of the product optimiser against
torch.optim fed the same gradients, under the reference error model. The expectation never comes
from ``ms_acmix.train.optim``: torch's groups are the official rule's.
"""
import copy
from typing import Dict

import numpy as np
import torch
from mindspore import Tensor

from acmix_common.name_map import ms_to_torch
from acmix_common.tolerance import Comparison

from . import reference_recipes as official
from .checks import against, verdict
from .twins import build, draw_cotangent, draw_input, reference, torch_grads

RECIPE_CONFIG = {"swin": "acmix_swin_tiny", "resnet": "acmix_resnet26"}
OFFICIAL_DECAY = {"swin": official.swin_weight_decay, "resnet": official.resnet_weight_decay}


def recipe_optimizer(recipe: str) -> dict:
    """The optimizer section of the recipe's config file, as the training script reads it."""
    from ms_acmix.train import config as cfgmod
    return cfgmod.build(RECIPE_CONFIG[recipe])["optimizer"]


def check_decay_groups(t_model: torch.nn.Module, m_model, recipe: str, opt: dict) -> None:
    """Every parameter's weight decay in the product's groups == the official rule's."""
    from ms_acmix.train.optim import param_groups

    got: Dict[str, float] = {}
    for group in param_groups(m_model, opt):
        for p in group["params"]:
            got[ms_to_torch(p.name)] = float(group["weight_decay"])
    want = OFFICIAL_DECAY[recipe](t_model)
    if set(got) != set(want):
        raise AssertionError(f"{recipe} decay groups: parameters differ: product-only "
                             f"{sorted(set(got) - set(want))[:6]}, official-only "
                             f"{sorted(set(want) - set(got))[:6]}")
    wrong = {n: (got[n], want[n]) for n in sorted(want) if got[n] != want[n]}
    if wrong:
        shown = ", ".join(f"{n}: {g} (official {w})" for n, (g, w) in list(wrong.items())[:6])
        raise AssertionError(f"{recipe} decay groups: {len(wrong)} of {len(want)} parameters take "
                             f"the wrong weight decay: {shown}")


def _official_steps(recipe: str, lr: float, steps: int):
    """torch.optim from the official groups taking ``steps`` steps; results are the updates."""
    def compute(model, grads, dtype) -> Dict[str, np.ndarray]:
        model = copy.deepcopy(model).to(dtype)
        # a copy: for float64 parameters .double().numpy() is a view the step would update
        before = {n: p.detach().double().numpy().copy() for n, p in model.named_parameters()}
        optimizer = official.torch_optimizer(recipe, model, lr)
        for _ in range(steps):
            for name, p in model.named_parameters():
                p.grad = torch.from_numpy(grads[name]).to(dtype)
            optimizer.step()
        return {n: p.detach().double().numpy() - before[n] for n, p in model.named_parameters()}
    return compute


def check_optimizer_steps(config, recipe: str, steps: int = 2, lr: float = 0.05
                          ) -> Dict[str, Comparison]:
    """Decay groups by name, then ``steps`` updates (not parameters: their scale is lr-sized),
    each framework fed the same float32 gradients (gradients have their own check)."""
    from ms_acmix.train.optim import build_optimizer

    opt = recipe_optimizer(recipe)
    t_model, m_model = build(config)
    check_decay_groups(t_model, m_model, recipe, opt)
    x = draw_input(config)
    cotangent = draw_cotangent(t_model, x, config.seed + 2)
    grads = {n: g.astype(np.float32) for n, g in torch_grads(t_model, x, cotangent).items()
             if n != "input"}
    before = {ms_to_torch(p.name): p.asnumpy().astype(np.float64)
              for p in m_model.trainable_params()}
    m_opt = build_optimizer(m_model, opt, np.full(steps, lr, np.float32))
    m_grads = tuple(Tensor(grads[ms_to_torch(p.name)]) for p in m_opt.parameters)
    for _ in range(steps):
        m_opt(m_grads)
    actual = {ms_to_torch(p.name): p.asnumpy().astype(np.float64) - before[ms_to_torch(p.name)]
              for p in m_opt.parameters}
    ref64, noise = reference(_official_steps(recipe, lr, steps), t_model, grads, config.seed)
    # An update is a difference of float32 parameters: each step rounds the parameter to its
    # own grid, whose offset the nudges cannot change, so its context is the parameter's size.
    scales = {n: float(np.abs(before[n]).max()) for n in before}
    return verdict(f"{recipe} optimizer steps", config, against(actual, ref64, noise, scales),
                   dict(x=x, cotangent=cotangent))
