"""The official position grid is always float32, so its module crashes in any other dtype.

Here the grid follows the activations' dtype: torch_ref runs in float64/float16/bfloat16 and
MindSpore under ``to_float(float16)`` (its AMP mechanism).
"""
import mindspore as ms
import numpy as np
import pytest
import torch
from mindspore import Tensor

import ms_acmix
import torch_ref
from acmix_common.tolerance import assert_close
from parity.weights import torch_to_ms

ARGS = (8, 8, 3, 2, 3, 2)


def _reference(x):
    torch.manual_seed(0)
    model = torch_ref.ACmix(*ARGS)
    return model, model.double()(torch.from_numpy(x).double()).detach().numpy()


def test_torch_float64_is_the_float32_model_without_rounding(rng):
    x = rng.standard_normal((2, 8, 9, 11)).astype(np.float32)
    model, expected = _reference(x)
    assert model.conv_p.weight.dtype == torch.float64
    actual = model.float()(torch.from_numpy(x)).detach().numpy()
    assert_close(actual, expected, "float32")


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_torch_half_precisions_run_and_stay_close(dtype, rng):
    x = rng.standard_normal((2, 8, 9, 11)).astype(np.float32)
    model, expected = _reference(x)
    out = model.to(dtype)(torch.from_numpy(x).to(dtype))
    assert out.dtype == dtype
    assert_close(out.float().detach().numpy(), expected, str(dtype).replace("torch.", ""))


def test_mindspore_to_float16_runs_and_stays_close(rng):
    x = rng.standard_normal((2, 8, 9, 11)).astype(np.float32)
    t_model, expected = _reference(x)
    m_model = ms_acmix.ACmix(*ARGS)
    torch_to_ms(t_model.float(), m_model)
    out = m_model.to_float(ms.float16)(Tensor(x, ms.float16))
    assert out.dtype == ms.float16
    assert_close(out.asnumpy(), expected, "float16")
