"""Both ACmix modules against a naive numpy oracle, including what the official code crashes on."""
import numpy as np
import pytest
import torch
from mindspore import Tensor

import ms_acmix
import torch_ref
from acmix_common.tolerance import assert_close
from parity.weights import torch_to_ms

from .numpy_acmix import acmix_forward

# (in, out, k_att, head, k_conv, stride, dilation), (h, w)
CONFIGS = [
    ((8, 8, 7, 4, 3, 1, 1), (9, 10)),     # the official setting
    ((8, 16, 7, 4, 3, 2, 1), (12, 10)),   # official stride 2 on even sizes
    ((8, 16, 7, 4, 3, 2, 1), (11, 9)),    # stride 2 on odd sizes: ceil(size / 2)
    ((6, 6, 3, 2, 5, 1, 2), (8, 8)),      # k_conv 5, dilation 2
    ((4, 4, 5, 1, 1, 3, 1), (7, 13)),     # k_conv 1, stride 3, one head
]


def _perturbed_torch(args, dtype=torch.float64):
    torch.manual_seed(0)
    model = torch_ref.ACmix(*args).to(dtype)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return model


@pytest.mark.parametrize("args,hw", CONFIGS)
def test_torch_ref_float64_matches_oracle(args, hw, rng):
    model = _perturbed_torch(args)
    x = rng.standard_normal((2, args[0], *hw))
    expected = acmix_forward({k: v.numpy() for k, v in model.state_dict().items()}, x, *args[2:])
    actual = model(torch.from_numpy(x)).detach().numpy()
    assert_close(actual, expected, "float64", what=f"torch_ref ACmix{args}")


@pytest.mark.parametrize("args,hw", CONFIGS)
def test_mindspore_float32_matches_oracle(args, hw, rng):
    t_model = _perturbed_torch(args, torch.float32)
    m_model = ms_acmix.ACmix(*args)
    torch_to_ms(t_model, m_model)
    x = rng.standard_normal((2, args[0], *hw)).astype(np.float32)
    expected = acmix_forward({k: v.numpy() for k, v in t_model.state_dict().items()}, x,
                             *args[2:])
    actual = m_model(Tensor(x)).asnumpy()
    assert_close(actual, expected, "float32", what=f"ms_acmix ACmix{args}")


def test_oracle_check_has_teeth(rng):
    """The same check fails when the two sides really differ (one weight nudged by 1e-3)."""
    args = CONFIGS[0][0]
    model = _perturbed_torch(args)
    x = rng.standard_normal((1, args[0], 9, 10))
    params = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    params["conv_p.weight"][0, 0] += 1e-3
    with pytest.raises(AssertionError, match="differ beyond"):
        assert_close(model(torch.from_numpy(x)).detach().numpy(),
                     acmix_forward(params, x, *args[2:]), "float64")
