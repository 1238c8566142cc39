"""Regressions for MindSpore 2.10 CPU kernel bugs that ms_acmix routes around.

- SoftmaxGrad over a length-1 axis corrupts the gradients of later softmaxes in the process
  (so ACmix with k_att=1 and a one-token Swin window skip the softmax: it is 1 there).
- StridedSliceGrad fails ("input memory out of bounds") on strided slices of some shapes
  (so ACmix subsamples with gathers and PatchMerging uses a reshape).
"""
import pytest

from parity.checks import check_gradients
from parity.fixed_configs import ACMIX
from parity.strategies import AcmixConfig, ModelConfig


def test_acmix_with_one_position_does_not_poison_later_gradients():
    check_gradients(AcmixConfig(1, 1, 1, 1, 1, 1, 1, 1, 3, 3, seed=0))
    check_gradients(AcmixConfig(1, 1, 1, 3, 1, 1, 1, 1, 2, 2, seed=0))
    check_gradients(ACMIX[0])


@pytest.mark.parametrize("height,width", [(2, 1), (3, 1), (4, 4)])
def test_stride_two_gradients_on_thin_maps(height, width):
    check_gradients(AcmixConfig(2, 1, 2, 1, 1, 1, 2, 1, height, width, seed=0))


def test_patch_merging_gradients_with_two_channels():
    kwargs = dict(img_size=32, patch_size=2, embed_dim=2, depths=(1, 1), num_heads=(1, 2),
                  window_size=2, num_classes=2, drop_path_rate=0.0)
    check_gradients(ModelConfig("acmix_swin_small", kwargs, (1, 3, 32, 32), seed=0))
