"""Both registries read the one model table, each family's classes are registered by its model
files, and each entry's metadata is true of the models."""
import inspect
from dataclasses import replace

import pytest
import torch

import ms_acmix
import ms_acmix.models
import torch_ref
import torch_ref.models
from acmix_common.name_map import ms_to_torch
from acmix_common.registry import ModelRegistry
from acmix_common.variants import model_info, register_model, unregister_model

from .tiny_models import TINY

NAMES = ["acmix_resnet26", "acmix_resnet38", "acmix_resnet50", "acmix_swin_small",
         "acmix_swin_tiny"]
REGISTRIES = {"torch": torch_ref, "mindspore": ms_acmix}
MODEL_LAYERS = {"torch": torch_ref.models, "mindspore": ms_acmix.models}


def test_both_frameworks_register_the_same_names():
    assert torch_ref.list_models() == NAMES
    assert ms_acmix.list_models() == NAMES


@pytest.mark.parametrize("create", [torch_ref.create_model, ms_acmix.create_model])
def test_unknown_name_is_a_value_error_listing_the_known_ones(create):
    with pytest.raises(ValueError, match=r"name='acmix_resnet51'.*acmix_resnet50"):
        create("acmix_resnet51")


@pytest.mark.parametrize("framework", sorted(REGISTRIES))
@pytest.mark.parametrize("name", NAMES)
def test_defaults_and_kwargs_are_the_constructors(framework, name):
    """The table's defaults are the constructor's own, and every variant kwarg is one of its
    parameters (so the table cannot silently drift from the model files)."""
    info = model_info(name)
    params = inspect.signature(MODEL_LAYERS[framework].model_class(name)).parameters
    assert set(info.kwargs) <= set(params)
    assert params["num_classes"].default == info.num_classes
    assert params["in_chans"].default == info.input_size[0]
    if info.fixed_input_size:
        size = params[info.input_size_kwarg].default
        assert (size, size) == info.input_size[1:]
    else:
        assert not {"img_size", "input_size"} & set(params)


@pytest.mark.parametrize("framework", sorted(REGISTRIES))
@pytest.mark.parametrize("name", NAMES)
def test_classifier_first_conv_and_features_are_the_models(framework, name):
    info = model_info(name)
    kwargs = TINY[name][0]
    model = REGISTRIES[framework].create_model(name, **kwargs)
    if framework == "torch":
        shapes = {k: tuple(p.shape) for k, p in model.named_parameters()}
    else:
        shapes = {ms_to_torch(k): tuple(p.shape) for k, p in model.parameters_and_names()}
    first = next(iter(shapes))
    assert first == f"{info.first_conv}.weight"
    assert len(shapes[first]) == 4 and shapes[first][1] == info.input_chw(kwargs)[0]
    head = [k for k in shapes if info.is_classifier(k)]
    assert head == [f"{info.classifier[0]}.weight", f"{info.classifier[0]}.bias"]
    assert shapes[head[0]][0] == kwargs["num_classes"]
    assert model.feature_info == info.feature_info(kwargs)


@pytest.mark.parametrize("name", NAMES)
def test_small_variant_keeps_the_official_depth_and_takes_its_input(name, monkeypatch):
    info = model_info(name)
    model = torch_ref.create_model(name, **info.small_kwargs).eval()
    monkeypatch.setattr(torch.nn.init, "trunc_normal_", lambda t, **kw: t)  # structure only
    official = torch_ref.create_model(name)
    assert (sum(1 for _ in model.modules()) == sum(1 for _ in official.modules()))
    with torch.no_grad():
        out = model(torch.zeros((1, *info.small_input_size)))
    assert out.shape == (1, info.small_kwargs["num_classes"])


def test_a_registered_entry_reaches_both_frameworks_at_once():
    info = model_info("acmix_resnet26")
    toy = replace(info, name="toy_resnet", kwargs=dict(info.kwargs, layers=(1, 1, 1, 1)))
    register_model(toy)
    try:
        assert "toy_resnet" in torch_ref.list_models() == ms_acmix.list_models()
        assert torch_ref.create_model("toy_resnet", base_planes=4).layer1[0].conv1.in_channels == 4
        with pytest.raises(ValueError, match="registered twice"):
            register_model(toy)
    finally:
        unregister_model("toy_resnet")
    assert "toy_resnet" not in torch_ref.list_models()


def test_a_family_keeps_one_set_of_mixers():
    info = model_info("acmix_swin_tiny")
    with pytest.raises(ValueError, match="family 'swin' has mixers"):
        register_model(replace(info, name="x", mixers=("acmix",)))
    with pytest.raises(ValueError, match=r"mixer must be one of \('acmix', 'attention'\)"):
        torch_ref.create_model("acmix_swin_tiny", mixer="conv")


@pytest.mark.parametrize("name,depths", [("acmix_resnet26", [1, 2, 4, 1]),
                                         ("acmix_resnet38", [2, 3, 5, 2]),
                                         ("acmix_resnet50", [3, 4, 6, 3])])
def test_resnet_depths_are_the_papers(name, depths):  # README, Models table
    model = torch_ref.create_model(name, base_planes=4)
    assert [len(getattr(model, f"layer{i}")) for i in range(1, 5)] == depths


README_KWARGS = {  # README, Models: "Keyword arguments", with the defaults it states (None: none)
    "resnet": dict(num_classes=1000, in_chans=3, layers=None, k_att=7, head=4, k_conv=3,
                   base_planes=64, drop_path_rate=0.0, keep_shift_init=False,
                   attn_impl="fast", mixer="acmix"),
    "swin": dict(num_classes=1000, in_chans=3, img_size=224, patch_size=None, embed_dim=None,
                 depths=None, num_heads=None, window_size=None, mlp_ratio=None, qkv_bias=None,
                 drop_rate=None, attn_drop_rate=None, drop_path_rate=None, mixer="acmix"),
}


@pytest.mark.parametrize("framework", sorted(REGISTRIES))
@pytest.mark.parametrize("name", NAMES)
def test_readme_keyword_arguments_and_defaults(framework, name):
    """Each documented kwarg is taken, with the documented default (None: per variant)."""
    info = model_info(name)
    params = inspect.signature(MODEL_LAYERS[framework].model_class(name)).parameters
    for key, default in README_KWARGS[info.family].items():
        assert key in params, key
        if default is not None:
            assert info.model_kwargs().get(key, params[key].default) == default, key


@pytest.mark.parametrize("framework", sorted(REGISTRIES))
@pytest.mark.parametrize("name", NAMES)
def test_attn_impl_is_taken_exactly_where_the_table_says_the_mixer_is_the_acmix_module(framework,
                                                                                       name):
    params = inspect.signature(MODEL_LAYERS[framework].model_class(name)).parameters
    assert ("attn_impl" in params) == model_info(name).acmix_module
    if not model_info(name).acmix_module:
        with pytest.raises(TypeError, match="attn_impl"):
            REGISTRIES[framework].create_model(name, attn_impl="fast", **TINY[name][0])


def test_a_family_class_is_registered_once_per_framework():
    registry = ModelRegistry("torch")
    registry.register_family("resnet")(torch_ref.models.model_class("acmix_resnet26"))
    assert registry.model_class("acmix_resnet50") is torch_ref.models.model_class("acmix_resnet26")
    with pytest.raises(ValueError, match="family 'resnet' already has the torch class"):
        registry.register_family("resnet")(type("Other", (), {}))
    with pytest.raises(ValueError, match=r"name='acmix_swin_tiny': family 'swin' has no torch "
                                         r"class.*@register_family\('swin'\)"):
        registry.model_class("acmix_swin_tiny")


def test_the_model_layer_only_builds_and_the_factory_loads():
    """The registry's create_model takes no checkpoint (the model class refuses the kwarg); the
    facades' create_model is the factory's, which does (tests/test_load_weights.py loads)."""
    with pytest.raises(TypeError, match="checkpoint_path"):
        torch_ref.models.create_model("acmix_resnet26", checkpoint_path="w.pth", base_planes=4)
    for facade in REGISTRIES.values():
        assert facade.create_model.__module__ == f"{facade.__name__}._factory"
        assert "checkpoint_path" in inspect.signature(facade.create_model).parameters
