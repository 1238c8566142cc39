"""Draw weights for a torch_ref model and copy them to its ms_acmix twin via the one name map."""
import numpy as np
from mindspore import Tensor

import ms_acmix
import torch_ref
from acmix_common.name_map import torch_key_kind, torch_to_ms_map
from torch_ref.models.testing import draw_weights_ as draw_torch_weights_  # noqa: F401


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


def model_twins(name: str, seed: int = 0, **kwargs):
    """A registered model in both frameworks, in eval mode, with drawn weights copied across."""
    t_model = torch_ref.create_model(name, **kwargs).eval()
    draw_torch_weights_(t_model, seed=seed)
    m_model = ms_acmix.create_model(name, **kwargs)
    m_model.set_train(False)
    torch_to_ms(t_model, m_model)
    return t_model, m_model
