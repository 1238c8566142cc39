"""Building the models the converter converts between (each framework's model registry, imported
when a model of that framework is built) and describing what a checkpoint must hold."""
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from acmix_common.name_map import (REBUILT_BUFFER_LEAVES, torch_key_kind, torch_to_ms_map)

from .errors import CheckpointError

Shape = Tuple[int, ...]


@dataclass
class Target:
    """What the instantiated target model needs, keyed by PyTorch-style name where noted."""

    framework: str  # 'mindspore' or 'torch'
    names: Dict[str, str]  # torch-style name -> target name, for entries filled from the source
    shapes: Dict[str, Shape]  # target name -> shape
    dtypes: Dict[str, np.dtype]  # target name -> dtype
    rebuilt: Dict[str, Optional[np.ndarray]]  # torch-style path -> what the model computes (None)
    own: Dict[str, np.ndarray]  # target name -> value the file gets from the model itself
    order: List[str]  # target names in the model's order


def create_model(framework: str, name: str, kwargs: Dict[str, Any]):
    """Build ``name`` in 'torch' or 'mindspore', in eval mode; kwargs the model rejects are a
    CheckpointError naming them."""
    if framework == "torch":
        from torch_ref.models import create_model as build
    else:
        from ms_acmix.models import create_model as build
    try:
        model = build(name, **kwargs)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"model={name!r} model_kwargs={kwargs}: {exc}") from None
    if framework == "torch":
        model.eval()
    else:
        model.set_train(False)
    return model


def _rebuilt(modules) -> Dict[str, Optional[np.ndarray]]:
    """torch-style path -> value of every rebuilt buffer attribute (None where a block has none)."""
    found: Dict[str, Optional[np.ndarray]] = {}
    for path, module in modules:
        for leaf in REBUILT_BUFFER_LEAVES:
            if hasattr(module, leaf):
                value = getattr(module, leaf)
                key = f"{path}.{leaf}" if path else leaf
                found[key] = None if value is None else _as_numpy(value)
    return found


def _as_numpy(value: Any) -> np.ndarray:
    return value.asnumpy() if hasattr(value, "asnumpy") else value.detach().cpu().numpy()


# MindSpore parameter dtypes by name (mindspore.dtype_to_nptype logs a deprecation warning per
# call from MindSpore 2.7 on).
_MS_DTYPES = {"Float16": np.float16, "Float32": np.float32, "Float64": np.float64,
              "Int8": np.int8, "Int16": np.int16, "Int32": np.int32, "Int64": np.int64,
              "UInt8": np.uint8, "Bool": np.bool_}


def _ms_dtype(dtype) -> np.dtype:
    if str(dtype) in _MS_DTYPES:
        return np.dtype(_MS_DTYPES[str(dtype)])
    import mindspore as ms
    return np.dtype(ms.dtype_to_nptype(dtype))


def ms_target(net) -> Target:
    params = net.parameters_dict()
    names = torch_to_ms_map(params)
    return Target("mindspore", names, {k: tuple(p.shape) for k, p in params.items()},
                  {k: _ms_dtype(p.dtype) for k, p in params.items()},
                  _rebuilt(net.cells_and_names()), {}, list(params))


def torch_target(model) -> Target:
    state = model.state_dict()
    names, own = {}, {}
    for key, value in state.items():
        if torch_key_kind(key) == "mapped":
            names[key] = key
        else:
            own[key] = value.detach().cpu().numpy()
    return Target("torch", names, {k: tuple(v.shape) for k, v in state.items()},
                  {k: v.detach().cpu().numpy().dtype for k, v in state.items()},
                  _rebuilt(model.named_modules()), own, list(state))
