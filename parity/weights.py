"""Draw weights for a torch_ref model and copy them to its ms_acmix twin via the one name map."""
import numpy as np
import torch
from mindspore import Tensor

from acmix_common.name_map import (REBUILT_BUFFER_LEAVES, ms_to_torch, torch_key_kind,
                                   torch_to_ms_map)


def torch_to_ms(torch_model, ms_model) -> None:
    """Load every mapped torch parameter and buffer into the MindSpore model, exactly."""
    params = dict(ms_model.parameters_and_names())
    mapping = torch_to_ms_map(params)
    state = torch_model.state_dict()
    mapped = {k for k in state if torch_key_kind(k) == "mapped"}
    if mapped != set(mapping):
        raise KeyError(f"torch-only keys {sorted(mapped - set(mapping))[:5]}, "
                       f"MindSpore-only keys {sorted(set(mapping) - mapped)[:5]}")
    for name in mapped:
        value = state[name].detach().cpu().numpy()
        param = params[mapping[name]]
        if tuple(param.shape) != value.shape:
            raise ValueError(f"{name}: torch shape {value.shape} != MindSpore {param.shape}")
        param.set_data(Tensor(value.astype(np.float32)))


def ms_params_as_torch_names(ms_model) -> dict:
    """{torch name: numpy array} of every MindSpore parameter."""
    return {ms_to_torch(n): p.asnumpy() for n, p in ms_model.parameters_and_names()}


def draw_torch_weights_(model, seed: int) -> None:
    """Replace every parameter and BatchNorm statistic with a seeded draw that keeps activations
    O(1) through the network, so that every layer's semantics show in the output (a default
    init leaves e.g. GELU inputs near zero, where tanh and erf GELU agree)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if not t.is_floating_point() or name.endswith(REBUILT_BUFFER_LEAVES):
                continue
            noise = torch.randn(t.shape, generator=gen, dtype=torch.float64).to(t.dtype)
            if name.endswith("running_var"):
                t.copy_(0.5 + noise.abs())
            elif t.ndim >= 2 and not name.endswith("relative_position_bias_table"):
                t.copy_(noise / np.sqrt(t[0].numel()))
            elif name.endswith(("weight", "gamma", "rate1", "rate2")):
                t.add_(0.2 * noise)
            else:
                t.copy_(0.5 * noise)
