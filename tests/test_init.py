"""Default initialisation follows the official code, quirks included, in both frameworks."""
import numpy as np
import pytest
import torch

import ms_acmix
import torch_ref
from acmix_common.checks import shift_kernels

RESNET = dict(base_planes=8, layers=(1, 1, 1, 1), num_classes=5, k_att=3, head=2)
SWIN = dict(img_size=32, patch_size=2, embed_dim=16, depths=(2, 2), num_heads=(2, 4),
            window_size=4, num_classes=5)


def _ms_params(model):
    return {n: p.asnumpy() for n, p in model.parameters_and_names()}


def test_shift_kernels_are_one_hot_taps():
    k = shift_kernels(3, 2)
    assert k.shape == (2, 9, 3, 3)
    for i in range(9):
        assert k[0, i].sum() == 1 and k[1, i, i // 3, i % 3] == 1


@pytest.mark.parametrize("framework", ["torch", "ms"])
def test_acmix_module_init(framework):
    if framework == "torch":
        params = {k: v.numpy() for k, v in torch_ref.ACmix(8, 8, 7, 4, 3).state_dict().items()}
    else:
        params = _ms_params(ms_acmix.ACmix(8, 8, 7, 4, 3))
    assert "dep_conv.bias" not in params and "fc.bias" not in params
    assert params["rate1"].tolist() == [0.5] and params["rate2"].tolist() == [0.5]
    np.testing.assert_array_equal(params["dep_conv.weight"], shift_kernels(3, 8))


@pytest.mark.parametrize("keep_shift_init", [False, True])
@pytest.mark.parametrize("framework", ["torch", "ms"])
def test_resnet_kaiming_loop_overwrites_shift_kernels_unless_kept(framework, keep_shift_init):
    create = torch_ref.create_model if framework == "torch" else ms_acmix.create_model
    model = create("acmix_resnet26", keep_shift_init=keep_shift_init, **RESNET)
    params = ({k: v.numpy() for k, v in model.state_dict().items()} if framework == "torch"
              else _ms_params(model))
    dep = params["layer1.0.conv2.dep_conv.weight"]
    assert np.array_equal(dep, shift_kernels(3, dep.shape[0])) == keep_shift_init
    # kaiming_normal_(fan_out, relu): std sqrt(2 / (out * k * k)) for the stem conv
    stem = params["conv1.weight"]
    assert abs(stem.std() / np.sqrt(2.0 / (stem.shape[0] * 49)) - 1) < 0.1


@pytest.mark.parametrize("framework", ["torch", "ms"])
def test_swin_keeps_shift_kernels_and_trunc_normal_linears(framework):
    torch.manual_seed(0)
    create = torch_ref.create_model if framework == "torch" else ms_acmix.create_model
    model = create("acmix_swin_tiny", **SWIN)
    params = ({k: v.numpy() for k, v in model.state_dict().items()} if framework == "torch"
              else _ms_params(model))
    np.testing.assert_array_equal(params["layers.0.blocks.0.attn.dep_conv.weight"],
                                  shift_kernels(3, 16))
    qkv = params["layers.1.blocks.0.attn.qkv.weight"]
    assert abs(qkv.std() / 0.02 - 1) < 0.1
    assert not params["layers.1.blocks.0.attn.qkv.bias"].any()
