"""Build a PyTorch model and its MindSpore twin with the same drawn weights, run them, and measure
the PyTorch side's float32 noise (parity/error_model.py: the reference error model)."""
import copy
from typing import Callable, Dict, Tuple

import mindspore as ms
import numpy as np
import torch
from mindspore import Tensor

import ms_acmix
import torch_ref
from acmix_common.name_map import REBUILT_BUFFER_LEAVES, ms_to_torch
from acmix_common.tolerance import max_abs
from parity.error_model import NOISE_SAMPLES, nudge
from ms_acmix.models.swin import SwinBlockACmix as MsSwinBlock
from torch_ref.models.swin import SwinBlockACmix as TorchSwinBlock

from .strategies import AcmixConfig, ModelConfig, SwinBlockConfig
from .weights import draw_torch_weights_, torch_to_ms


def build(config) -> Tuple[torch.nn.Module, ms.nn.Cell]:
    """(torch float32 model, MindSpore model) in eval mode, weights drawn from config.seed."""
    if isinstance(config, AcmixConfig):
        t_model = torch_ref.ACmix(**config.kwargs, attn_impl=config.torch_attn_impl)
        m_model = ms_acmix.ACmix(**config.kwargs, attn_impl=config.ms_attn_impl)
    elif isinstance(config, SwinBlockConfig):
        res = (config.height, config.width)
        shift = config.window_size // 2 if config.shift else 0
        args = (config.dim, res, config.num_heads, config.window_size, shift)
        t_model, m_model = TorchSwinBlock(*args), MsSwinBlock(*args)
    elif isinstance(config, ModelConfig):
        t_model = torch_ref.create_model(config.name, **config.kwargs,
                                         **config.attn_impl_kwargs("torch"))
        m_model = ms_acmix.create_model(config.name, **config.kwargs,
                                        **config.attn_impl_kwargs("ms"))
    else:
        raise TypeError(f"no twins for {type(config).__name__}")
    draw_torch_weights_(t_model, config.seed)
    try:
        torch_to_ms(t_model, m_model)
    except KeyError as e:  # a parameter one framework has and the other lacks
        raise AssertionError(f"the two models' parameters do not pair up: {e}") from None
    t_model.eval()
    m_model.set_train(False)
    return t_model, m_model


def draw_input(config, shape=None) -> np.ndarray:
    rng = np.random.default_rng(config.seed)
    return (config.input_scale * rng.standard_normal(shape or config.input_shape)).astype(
        np.float32)


def draw_cotangent(t_model: torch.nn.Module, x: np.ndarray, seed: int) -> np.ndarray:
    """A seeded random projection of the output: gradients of sum(out * cotangent)."""
    with torch.no_grad():
        shape = t_model(torch.from_numpy(x)).shape
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def torch_forward(model: torch.nn.Module, x: np.ndarray, dtype=torch.float32) -> np.ndarray:
    model = model.to(dtype)
    with torch.no_grad():
        out = model(torch.from_numpy(x).to(dtype)).double().numpy()
    model.float()
    return out


def ms_forward(model: ms.nn.Cell, x: np.ndarray, graph: bool = False) -> np.ndarray:
    fn: Callable = ms.jit(model.construct) if graph else model
    return fn(Tensor(x)).asnumpy().astype(np.float64)


def torch_grads(model: torch.nn.Module, x: np.ndarray, cotangent: np.ndarray,
                dtype=torch.float32) -> Dict[str, np.ndarray]:
    """d(sum(out * cotangent)) / d(input and every parameter), keyed by torch name ('input')."""
    model = model.to(dtype)
    model.zero_grad(set_to_none=True)
    inp = torch.from_numpy(x).to(dtype).requires_grad_(True)
    (model(inp) * torch.from_numpy(cotangent).to(dtype)).sum().backward()
    grads = {"input": inp.grad.double().numpy()}
    grads.update({n: p.grad.double().numpy() for n, p in model.named_parameters()})
    model.float()
    return grads


def ms_grads(model: ms.nn.Cell, x: np.ndarray, cotangent: np.ndarray,
             graph: bool = False) -> Dict[str, np.ndarray]:
    """The same gradients from MindSpore, keyed by the torch name of each parameter."""
    params = model.trainable_params()
    cot = Tensor(cotangent)

    def loss(inp):
        return (model(inp) * cot).sum()

    grad_fn = ms.grad(loss, grad_position=0, weights=params)
    if graph:
        grad_fn = ms.jit(grad_fn)
    g_input, g_params = grad_fn(Tensor(x))
    grads = {"input": g_input.asnumpy().astype(np.float64)}
    grads.update({ms_to_torch(p.name): g.asnumpy().astype(np.float64)
                  for p, g in zip(params, g_params)})
    return grads


# A torch computation the harness checks: (model, named float32 inputs, dtype) -> named results.
Computation = Callable[[torch.nn.Module, Dict[str, np.ndarray], torch.dtype],
                       Dict[str, np.ndarray]]


def _nudged_model(model: torch.nn.Module, rng: np.random.Generator) -> torch.nn.Module:
    """A copy with every float parameter and buffer moved by at most one ulp (the buffers a model
    rebuilds from its configuration, such as the shifted-window mask, are architecture)."""
    moved = copy.deepcopy(model)
    with torch.no_grad():
        for name, t in moved.state_dict().items():
            if t.is_floating_point() and not name.endswith(REBUILT_BUFFER_LEAVES):
                t.copy_(torch.from_numpy(nudge(t.detach().cpu().numpy(), rng)))
    return moved


def reference(compute: Computation, model: torch.nn.Module, inputs: Dict[str, np.ndarray],
              seed: int) -> Tuple[Dict[str, np.ndarray], Dict[str, float]]:
    """(float64 results, float32 noise of each result): the noise is the largest distance to
    the float64 results over NOISE_SAMPLES float32 runs on nudged weights and inputs."""
    ref64 = compute(model, inputs, torch.float64)
    noise = dict.fromkeys(ref64, 0.0)
    rng = np.random.default_rng([seed, 0x5EED])
    for _ in range(NOISE_SAMPLES):
        moved = _nudged_model(model, rng)
        out = compute(moved, {k: nudge(v, rng) for k, v in inputs.items()}, torch.float32)
        for key, value in out.items():
            noise[key] = max(noise[key], max_abs(value - ref64[key]))
    return ref64, noise


def forward_computation(model, inputs, dtype) -> Dict[str, np.ndarray]:
    return {"output": torch_forward(model, inputs["x"], dtype)}


def grads_computation(model, inputs, dtype) -> Dict[str, np.ndarray]:
    return torch_grads(model, inputs["x"], inputs["cotangent"], dtype)


def features_computation(model, inputs, dtype) -> Dict[str, np.ndarray]:
    """A features_only model's stage maps, keyed by stage index."""
    model = model.to(dtype)
    with torch.no_grad():
        maps = model(torch.from_numpy(inputs["x"]).to(dtype))
    model.float()
    return {f"stage {i}": m.double().numpy() for i, m in zip(model.out_indices, maps)}


def ms_features(model: ms.nn.Cell, x: np.ndarray, graph: bool = False) -> Dict[str, np.ndarray]:
    fn: Callable = ms.jit(model.construct) if graph else model
    return {f"stage {i}": m.asnumpy().astype(np.float64)
            for i, m in zip(model.out_indices, fn(Tensor(x)))}
