import pytest

import ms_acmix
import torch_ref

NAMES = ["acmix_resnet26", "acmix_resnet38", "acmix_resnet50", "acmix_swin_small",
         "acmix_swin_tiny"]


def test_both_frameworks_register_the_same_names():
    assert torch_ref.list_models() == NAMES
    assert ms_acmix.list_models() == NAMES


@pytest.mark.parametrize("create", [torch_ref.create_model, ms_acmix.create_model])
def test_unknown_name_is_a_value_error_listing_the_known_ones(create):
    with pytest.raises(ValueError, match=r"name='acmix_resnet51'.*acmix_resnet50"):
        create("acmix_resnet51")
