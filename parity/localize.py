"""Find the first layer, in forward order, whose output differs between the frameworks."""
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from mindspore import Tensor

from .tolerance import Comparison, compare_to_reference


def _torch_outputs(model: torch.nn.Module, x: np.ndarray, dtype) -> List[Tuple[str, np.ndarray]]:
    seen: List[Tuple[str, np.ndarray]] = []
    hooks = [m.register_forward_hook(
        lambda _m, _i, out, name=name: seen.append((name, out.detach().double().numpy()))
        if isinstance(out, torch.Tensor) else None)
        for name, m in model.named_modules() if name]
    model.to(dtype)
    try:
        with torch.no_grad():
            model(torch.from_numpy(x).to(dtype))
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


def first_divergence(t_model, m_model, x: np.ndarray,
                     kind: str = "forward") -> Optional[Tuple[str, tuple, Comparison]]:
    """(name, shape, comparison) of the first torch module, in execution order, whose output
    MindSpore does not reproduce; None when every paired output agrees."""
    ref64 = _torch_outputs(t_model, x, torch.float64)
    ref32 = _torch_outputs(t_model, x, torch.float32)
    ms_out = _ms_outputs(m_model, x)
    calls: Dict[str, int] = {}
    for (name, expected), (_, torch32) in zip(ref64, ref32):
        index = calls[name] = calls.get(name, -1) + 1
        outputs = ms_out.get(name, [])
        if index >= len(outputs) or outputs[index].shape != expected.shape:
            continue
        result = compare_to_reference(outputs[index], expected, torch32, "float32", kind)
        if not result.ok:
            return name, expected.shape, result
    return None
