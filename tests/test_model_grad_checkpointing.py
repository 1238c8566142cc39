"""``set_grad_checkpointing`` (timm's) on every model of both frameworks: with it on, a training
step gives the same gradients and running statistics; PyTorch recomputes each block in the
backward only when training with grad, and saves less for the backward; MindSpore's recompute
works in PYNATIVE and GRAPH, is undone when disabled, and is refused in PYNATIVE with active
dropout. (Gradients against the float64 reference: parity/test_grad_checkpointing.py; memory:
acmix-benchmark's "+ckpt" rows.)"""
import copy
import inspect

import mindspore as ms
import numpy as np
import pytest
import torch
from mindspore import Tensor

import ms_acmix
import torch_ref
from acmix_common.tolerance import assert_close
from acmix_common.variants import list_models
from ms_acmix.models.checkpointing import dropout_cells, recompute_enabled, set_recompute
from tests.tiny_models import TINY
from tests.toy_family import toy_ms, toy_torch

BLOCKS = ("Bottleneck", "SwinBlockACmix")
DROP = {"acmix_resnet26": 0.3, "acmix_swin_tiny": 0.3}  # drop path on: the draws must replay


def _classes():
    from ms_acmix.models._registry import model_class as ms_class
    from torch_ref.models._registry import model_class as torch_class
    for name in list_models():
        yield torch_class(name)
        yield ms_class(name)
    yield toy_torch.ToyNet
    yield toy_ms.ToyNet


@pytest.mark.parametrize("cls", list(_classes()), ids=lambda c: f"{c.__module__}.{c.__name__}")
def test_every_model_has_timms_method(cls):
    params = inspect.signature(cls.set_grad_checkpointing).parameters
    assert list(params) == ["self", "enable"] and params["enable"].default is True


# ---- PyTorch ----------------------------------------------------------------------------------

def _torch_step(model, x, seed):
    """Gradients (input and parameters), buffers and output of one seeded training step."""
    torch.manual_seed(seed)
    inp = torch.from_numpy(x).requires_grad_(True)
    out = model(inp)
    (out * out).sum().backward()
    result = {"output": out.detach(), "input": inp.grad}
    result.update({n: p.grad for n, p in model.named_parameters()})
    result.update({n: b.clone() for n, b in model.named_buffers()})
    return result


def _block_calls(model):
    calls = []
    for m in model.modules():
        if type(m).__name__ in BLOCKS:
            m.register_forward_pre_hook(lambda *_: calls.append(1))  # before any early stop
    return calls


@pytest.mark.parametrize("name", sorted(DROP))
def test_torch_same_step_bit_for_bit_and_each_block_recomputed(name):
    kwargs, shape = TINY[name]
    torch.manual_seed(0)
    base = torch_ref.create_model(name, **kwargs, drop_path_rate=DROP[name]).train()
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    steps, calls = {}, {}
    for on in (False, True):
        model = copy.deepcopy(base)
        model.set_grad_checkpointing(on)
        calls[on] = _block_calls(model)
        steps[on] = _torch_step(model, x, seed=7)
    blocks = len(calls[False])
    assert blocks > 0 and len(calls[True]) == 2 * blocks  # forward, then once in the backward
    for key, off in steps[False].items():  # drop path drew the same masks; stats updated once
        assert torch.equal(steps[True][key], off), key


def test_torch_checkpoints_only_when_training_with_grad():
    kwargs, shape = TINY["acmix_resnet26"]
    model = torch_ref.create_model("acmix_resnet26", **kwargs)
    model.set_grad_checkpointing()
    calls = _block_calls(model)
    x = torch.randn(shape, requires_grad=True)
    model.eval()
    model(x).sum().backward()
    blocks = len(calls)
    model.train()
    with torch.no_grad():
        model(x)
    assert len(calls) == 2 * blocks  # neither recomputed anything
    model.set_grad_checkpointing(False)
    model(x).sum().backward()
    assert len(calls) == 3 * blocks


def _saved_bytes(model, x) -> int:
    """Bytes of the tensors autograd keeps for the backward during one training forward."""
    saved = []

    def pack(t):
        saved.append(t.numel() * t.element_size())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(x).sum().backward()
    return sum(saved)


def test_torch_keeps_a_fraction_of_the_activations():
    model = torch_ref.create_model("acmix_resnet26", base_planes=8, num_classes=5).train()
    x = torch.randn(2, 3, 64, 64)
    off = _saved_bytes(model, x)
    model.set_grad_checkpointing()
    on = _saved_bytes(model, x)  # inside a checkpointed block its own hooks take the tensors
    assert on < 0.2 * off, (on, off)


# ---- MindSpore --------------------------------------------------------------------------------

def _ms_step(model, x, graph):
    model.set_train(True)
    params = model.trainable_params()

    def loss(inp):
        out = model(inp)
        return (out * out).sum()

    grad_fn = ms.grad(loss, grad_position=0, weights=params)
    if graph:
        grad_fn = ms.jit(grad_fn)
    ms.set_seed(7)
    g_input, g_params = grad_fn(Tensor(x))
    result = {"input": g_input.asnumpy()}
    result.update({p.name: g.asnumpy() for p, g in zip(params, g_params)})
    result.update({p.name: p.asnumpy().copy() for p in model.get_parameters()
                   if "moving_" in p.name})
    return result


def _ms_model(name, drop, on=False, naive_then_undone=False):
    kwargs, _ = TINY[name]
    ms.set_seed(0)
    model = ms_acmix.create_model(name, **kwargs, drop_path_rate=drop)
    blocks = [c for _, c in model.cells_and_names() if type(c).__name__ in BLOCKS]
    if naive_then_undone:  # MindSpore's own recompute(), then set_recompute's undo
        for block in blocks:
            block.recompute()
        for block in blocks:
            set_recompute(block, False)
    model.set_grad_checkpointing(on)
    assert blocks and all(recompute_enabled(b) == on for b in blocks)
    return model


@pytest.mark.parametrize("graph", [False, True], ids=["pynative", "graph"])
@pytest.mark.parametrize("name", sorted(DROP))
def test_mindspore_same_step_with_recompute(name, graph):
    drop = DROP[name] if graph else 0.0  # PYNATIVE refuses drop path (next test)
    x = np.random.default_rng(1).standard_normal(TINY[name][1]).astype(np.float32)
    off = _ms_step(_ms_model(name, drop), x, graph)
    on = _ms_step(_ms_model(name, drop, on=True), x, graph)
    undone = _ms_step(_ms_model(name, drop, naive_then_undone=True), x, graph)
    assert set(on) == set(off)
    for key, value in off.items():
        kind = "forward" if "moving_" in key else "grad"
        assert_close(on[key], value, kind=kind, what=f"{key}, recompute on")
        # a plain recompute() left in place would update the moving statistics twice
        assert_close(undone[key], value, kind=kind, what=f"{key}, recompute undone")


def test_mindspore_pynative_refuses_drop_path_and_stays_usable():
    name = "acmix_resnet26"
    x = np.random.default_rng(1).standard_normal(TINY[name][1]).astype(np.float32)
    model = _ms_model(name, 0.3, on=True)
    assert dropout_cells(model) and not dropout_cells(_ms_model(name, 0.3))
    with pytest.raises(ValueError, match="PYNATIVE mode with dropout or drop path.*GRAPH"):
        _ms_step(model, x, graph=False)
    model.set_train(False)
    assert not dropout_cells(model, active_only=True)
    _ms_step(_ms_model(name, 0.0, on=True), x, graph=False)  # the process still trains
