"""Find the first layer, in forward order, whose output differs between the frameworks."""
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from mindspore import Tensor

from acmix_common.tolerance import Comparison
from parity.error_model import compare_to_reference

from . import device
from .twins import reference


def _torch_outputs(model: torch.nn.Module, inputs, dtype) -> Dict[str, np.ndarray]:
    """Every named module's tensor output, keyed 'name#call' in execution order."""
    seen: Dict[str, np.ndarray] = {}
    calls: Dict[str, int] = {}

    def hook(_m, _i, out, name):
        if isinstance(out, torch.Tensor):
            calls[name] = calls.get(name, -1) + 1
            seen[f"{name}#{calls[name]}"] = out.detach().double().numpy()

    hooks = [m.register_forward_hook(lambda m, i, o, name=name: hook(m, i, o, name))
             for name, m in model.named_modules() if name]
    model.to(dtype)
    try:
        with torch.no_grad():
            model(torch.from_numpy(inputs["x"]).to(dtype))
    finally:
        for h in hooks:
            h.remove()
        model.float()
    return seen


def _ms_outputs(model, x: np.ndarray) -> Dict[str, List[np.ndarray]]:
    seen: Dict[str, List[np.ndarray]] = {}
    handles = [cell.register_forward_hook(
        lambda _c, _i, out, name=name: seen.setdefault(name, []).append(
            out.asnumpy().astype(np.float64)) if isinstance(out, Tensor) else None)
        for name, cell in model.cells_and_names() if name]
    try:
        model(Tensor(x))
    finally:
        for h in handles:
            h.remove()
    return seen


def first_divergence(t_model, m_model, x: np.ndarray, seed: int = 0
                     ) -> Optional[Tuple[str, tuple, Comparison]]:
    """(name, shape, comparison) of the first torch module, in execution order, whose output
    MindSpore does not reproduce; None when every paired output agrees."""
    ref64, noise = reference(_torch_outputs, t_model, {"x": x}, seed)
    ms_out = _ms_outputs(m_model, x)
    for key, expected in ref64.items():  # insertion order is execution order
        name, index = key.rsplit("#", 1)
        outputs = ms_out.get(name, [])
        if int(index) >= len(outputs) or outputs[int(index)].shape != expected.shape:
            continue
        result = compare_to_reference(outputs[int(index)], expected, noise[key],
                                      arithmetic=device.arithmetic())
        if not result.ok:
            return name, expected.shape, result
    return None
