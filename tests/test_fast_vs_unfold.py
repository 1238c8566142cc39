"""torch_ref's default ``attn_impl="fast"`` against the official formulation ``"unfold"`` on the
same weights, whole models (README, Models: "agrees within float32 roundoff").

Default run: ACmix-ResNet-50 at official depth and ACmix hyper-parameters (3-4-6-3, k_att 7,
head 4, k_conv 3) but narrow (base_planes 8) at 128x128, with weights drawn to keep activations
O(1) as the parity harness does. The official size (224x224, 18.3M parameters) is marked slow.
"""
import copy

import numpy as np
import pytest
import torch

import torch_ref
from acmix_common.tolerance import assert_close, compare
from torch_ref.models.testing import draw_weights_

NAME = "acmix_resnet50"
NARROW = (dict(base_planes=8, num_classes=10), (2, 3, 128, 128))
OFFICIAL = ({}, (2, 3, 224, 224))


def _pair(kwargs, draw):
    torch.manual_seed(0)
    fast = torch_ref.create_model(NAME, attn_impl="fast", **kwargs).eval()
    if draw:
        draw_weights_(fast, seed=0)
    unfold = torch_ref.create_model(NAME, attn_impl="unfold", **kwargs).eval()
    unfold.load_state_dict(fast.state_dict(), strict=True)
    return fast, unfold


def _logits(model, x):
    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy()


def _logits64(model, x):
    return _logits(copy.deepcopy(model).double(), x.astype(np.float64))


@pytest.fixture(scope="module")
def narrow():
    fast, unfold = _pair(NARROW[0], draw=True)
    x = np.random.default_rng(0).standard_normal(NARROW[1]).astype(np.float32)
    return fast, unfold, x


def test_same_state_dict_and_same_function_in_float64(narrow):
    fast, unfold, x = narrow
    assert list(fast.state_dict()) == list(unfold.state_dict())
    fresh_fast, fresh_unfold = _pair(NARROW[0], draw=False)  # same seed, same initial weights
    for (name, a), b in zip(fresh_fast.state_dict().items(), fresh_unfold.state_dict().values()):
        assert torch.equal(a, b), name
    one = x[:1]  # float64 convolutions are slow on CPU: one image shows the same function
    assert_close(_logits64(fast, one), _logits64(unfold, one), "float64",
                 what="fast against unfold in float64")


def test_float32_logits_agree_within_roundoff(narrow):
    fast, unfold, x = narrow
    fast32, unfold32 = _logits(fast, x), _logits(unfold, x)
    assert_close(fast32, unfold32, "float32", what="fast against unfold")


def test_the_check_sees_a_real_difference(narrow):
    fast, unfold, x = narrow
    with torch.no_grad():
        fast.layer4[2].conv2.rate2.mul_(1.001)  # a 0.1% change of one block's conv-path weight
    try:
        assert not compare(_logits(fast, x), _logits(unfold, x)).ok
    finally:
        with torch.no_grad():
            fast.layer4[2].conv2.rate2.div_(1.001)


@pytest.mark.slow
@pytest.mark.parametrize("draw", [False, True], ids=["official_init", "drawn"])
def test_official_size_float32_logits_agree(draw):
    fast, unfold = _pair(OFFICIAL[0], draw)
    x = np.random.default_rng(0).standard_normal(OFFICIAL[1]).astype(np.float32)
    result = assert_close(_logits(fast, x), _logits(unfold, x), "float32",
                          what="ACmix-ResNet-50 fast against unfold")
    print(f"ACmix-ResNet-50 224x224: {result}")

