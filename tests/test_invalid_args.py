"""Where the official code crashes without a word, both frameworks raise the same ValueError."""
import mindspore as ms
import numpy as np
import pytest
import torch
from mindspore import Tensor

import ms_acmix
import torch_ref

BAD_ACMIX = [
    (dict(in_planes=8, out_planes=10, head=4), r"out_planes=10 is not divisible by head=4"),
    (dict(in_planes=8, out_planes=8, k_att=6), r"k_att must be odd.*k_att=6"),
    (dict(in_planes=8, out_planes=8, k_conv=2), r"k_conv must be odd.*k_conv=2"),
    (dict(in_planes=8, out_planes=8, stride=0), r"stride must be a positive int.*stride=0"),
    (dict(in_planes=8, out_planes=8, dilation=0), r"dilation=0"),
    (dict(in_planes=8, out_planes=8, head=2.0), r"head=2.0"),
]


@pytest.mark.parametrize("kwargs,message", BAD_ACMIX)
@pytest.mark.parametrize("module", [torch_ref.ACmix, ms_acmix.ACmix])
def test_bad_acmix_arguments(module, kwargs, message):
    with pytest.raises(ValueError, match=message):
        module(**kwargs)


SMALL = [((1, 8, 3, 9), "height=3"), ((1, 8, 9, 2), "width=2")]


@pytest.mark.parametrize("shape,what", SMALL)
def test_input_no_larger_than_reflection_pad(shape, what):
    message = rf"input {what} is too small.*reflection pad 3 \(k_att=7, dilation=1\)"
    with pytest.raises(ValueError, match=message):
        torch_ref.ACmix(8, 8)(torch.zeros(shape))
    m_model = ms_acmix.ACmix(8, 8)
    with pytest.raises(ValueError, match=message):
        m_model(Tensor(np.zeros(shape, np.float32)))
    with pytest.raises(ValueError, match=message):
        ms.jit(m_model.construct)(Tensor(np.zeros(shape, np.float32)))


def test_dilation_widens_the_pad_it_checks():
    with pytest.raises(ValueError, match=r"reflection pad 6 \(k_att=7, dilation=2\)"):
        torch_ref.ACmix(8, 8, dilation=2)(torch.zeros(1, 8, 6, 12))


BAD_SWIN = [
    (dict(img_size=30, patch_size=4), r"img_size=30 is not divisible by patch_size=4"),
    (dict(img_size=40, patch_size=2, window_size=7),
     r"stage 0 resolution 20x20 is not divisible by window_size=7"),
    (dict(img_size=56, patch_size=4, window_size=7, depths=(2, 2, 2), num_heads=(2, 4, 8)),
     r"stage 1 resolution 7x7 must be even for patch merging"),
    (dict(img_size=(28, 40), patch_size=4, window_size=7),
     r"img_size=\(28, 40\): stage 0 resolution 7x10 is not divisible by window_size=7"),
    (dict(img_size=32, patch_size=4, embed_dim=16, num_heads=(3, 6, 12, 24)),
     r"dim=16 is not divisible by num_heads\[0\]=3"),
    (dict(depths=(2, 2), num_heads=(3,)), r"must be non-empty and of the same length"),
]


@pytest.mark.parametrize("kwargs,message", BAD_SWIN)
@pytest.mark.parametrize("create", [torch_ref.create_model, ms_acmix.create_model])
def test_bad_swin_configurations(create, kwargs, message):
    with pytest.raises(ValueError, match=message):
        create("acmix_swin_tiny", **kwargs)


def test_swin_input_size_must_match_img_size():
    kwargs = dict(img_size=32, patch_size=2, embed_dim=16, depths=(2, 2), num_heads=(2, 4),
                  window_size=4)
    with pytest.raises(ValueError, match=r"input size \(32, 16\) does not match img_size"):
        torch_ref.create_model("acmix_swin_tiny", **kwargs)(torch.zeros(1, 3, 32, 16))
    with pytest.raises(ValueError, match=r"input size \(32, 16\) does not match img_size"):
        ms_acmix.create_model("acmix_swin_tiny", **kwargs)(Tensor(np.zeros((1, 3, 32, 16),
                                                                            np.float32)))
