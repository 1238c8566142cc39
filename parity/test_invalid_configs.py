"""Invalid configurations raise the same ValueError, word for word, in both frameworks."""
import re

import numpy as np
import pytest
import torch
from hypothesis import given
from mindspore import Tensor

import ms_acmix
import torch_ref
from parity.budget import examples
from parity.strategies import invalid_acmix_kwargs


def _error(build, run):
    try:
        run(build())
    except ValueError as e:
        return re.sub(r"^'|'$", "", str(e).splitlines()[0])
    raise AssertionError("no ValueError raised")


@examples(20)
@given(invalid_acmix_kwargs())
def test_acmix_invalid_configurations(case):
    kwargs, (h, w) = case
    x = np.zeros((1, kwargs["in_planes"], h, w), np.float32)
    torch_msg = _error(lambda: torch_ref.ACmix(**kwargs), lambda m: m(torch.from_numpy(x)))
    ms_msg = _error(lambda: ms_acmix.ACmix(**kwargs), lambda m: m(Tensor(x)))
    assert torch_msg == ms_msg
    assert re.search(r"\w+=-?\d+", torch_msg), torch_msg  # names the argument and its value


@pytest.mark.parametrize("kwargs", [dict(img_size=30), dict(img_size=40, patch_size=2),
                                    dict(embed_dim=20), dict(window_size=0)])
def test_swin_invalid_configurations(kwargs):
    messages = []
    for create in (torch_ref.create_model, ms_acmix.create_model):
        with pytest.raises(ValueError) as info:
            create("acmix_swin_tiny", **kwargs)
        messages.append(str(info.value))
    assert messages[0] == messages[1]
