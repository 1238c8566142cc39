"""Full-size models: parameter counts and state-dict entries equal the official ones."""
import pytest

import ms_acmix
import torch_ref

# Official figures (../shared/docs/official-acmix.md), measured on the official code.
OFFICIAL = {
    "acmix_resnet50": dict(params=18_333_976, entries=496),
    "acmix_swin_tiny": dict(params=28_649_908, entries=250),
    "acmix_swin_small": dict(params=50_345_080, entries=484),
}


@pytest.mark.parametrize("name", sorted(OFFICIAL))
def test_torch_counts_match_official(name):
    model = torch_ref.create_model(name)
    assert sum(p.numel() for p in model.parameters()) == OFFICIAL[name]["params"]
    assert len(model.state_dict()) == OFFICIAL[name]["entries"]
    assert not any(k.endswith("dep_conv.bias") for k in model.state_dict())


@pytest.mark.parametrize("name", sorted(OFFICIAL))
def test_mindspore_counts_match_official(name):
    model = ms_acmix.create_model(name)
    trainable = sum(p.size for p in model.trainable_params())
    assert trainable == OFFICIAL[name]["params"]
    assert not any(n.endswith("dep_conv.bias") for n, _ in model.parameters_and_names())


@pytest.mark.parametrize("name", ["acmix_resnet26", "acmix_resnet38"])
def test_smaller_resnets_agree_between_frameworks(name):
    t = sum(p.numel() for p in torch_ref.create_model(name).parameters())
    m = sum(p.size for p in ms_acmix.create_model(name).trainable_params())
    assert t == m
