"""Helpers for checks that run a torch_ref model on purpose-drawn weights (smoke runs, parity)."""
import numpy as np
import torch

from acmix_common.name_map import REBUILT_BUFFER_LEAVES


def draw_weights_(model: torch.nn.Module, seed: int) -> None:
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
