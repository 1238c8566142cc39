"""Backbones for dense prediction: features_only, feature_info, forward_intermediates and
reset_classifier in both frameworks (timm's semantics), PYNATIVE and GRAPH.

The cross-framework numerical parity of the feature maps is a drawn property in parity/; here
the two frameworks must return lists of the same length and shapes.
"""
import functools

import mindspore as ms
import numpy as np
import pytest
import torch
from mindspore import Tensor, nn

import ms_acmix
import torch_ref
from acmix_common.tolerance import assert_close
from ckpt_convert import load_weights
from parity.weights import model_twins

from .tiny_models import TINY

FRAMEWORKS = {"torch": torch_ref, "mindspore": ms_acmix}
RESNET, SWIN = "acmix_resnet26", "acmix_swin_small"  # 4 stages; 3 stages, non-square input


def _kwargs(name, **overrides):
    kwargs = dict(TINY[name][0])
    if overrides.get("features_only"):
        kwargs.pop("num_classes")
    return {**kwargs, **overrides}


def _twins(name, **overrides):
    """The torch model (random weights and BatchNorm statistics) and its MindSpore copy."""
    return _built_twins(name, tuple(sorted(overrides.items())))


@functools.lru_cache(maxsize=None)
def _built_twins(name, overrides):
    """Shared between tests, which must leave them as they are (eval mode, no hooks)."""
    torch.manual_seed(0)
    return model_twins(name, **_kwargs(name, **dict(overrides)))


def _input(name, rng):
    return rng.standard_normal(TINY[name][1]).astype(np.float32)


def _run(model, x, method=None, **kwargs):
    """Call ``model`` (or one of its methods) on numpy ``x``; numpy results, nested as returned."""
    def to_numpy(out):
        if isinstance(out, (tuple, list)):
            return type(out)(to_numpy(o) for o in out)
        return out.detach().numpy() if isinstance(out, torch.Tensor) else out.asnumpy()

    if isinstance(model, torch.nn.Module):
        fn = getattr(model, method) if method else model
        with torch.no_grad():
            return to_numpy(fn(torch.from_numpy(x), **kwargs))
    fn = getattr(model, method) if method else model
    return to_numpy(fn(Tensor(x), **kwargs))


def _check_against_feature_info(maps, model, x_shape):
    info = model.feature_info
    assert isinstance(maps, list) and len(maps) == len(info.out_indices)
    for fmap, chs, red in zip(maps, info.channels(), info.reduction()):
        # NCHW; every strided layer of both families gives ceil(size / stride)
        assert fmap.shape == (x_shape[0], chs, -(-x_shape[2] // red), -(-x_shape[3] // red))


@pytest.mark.parametrize("name", sorted(TINY))
def test_feature_maps_agree_with_feature_info(name, rng):
    t_model, m_model = _twins(name, features_only=True)
    x = _input(name, rng)
    t_maps, m_maps = _run(t_model, x), _run(m_model, x)
    for model, maps in ((t_model, t_maps), (m_model, m_maps)):
        assert model.feature_info.out_indices == tuple(range(len(model.feature_info)))
        _check_against_feature_info(maps, model, x.shape)
    assert [a.shape for a in t_maps] == [b.shape for b in m_maps]
    assert list(t_model.feature_info) == list(m_model.feature_info)


@pytest.mark.parametrize("name", [RESNET, SWIN])
def test_module_names_are_where_the_features_come_from(name, rng):
    """A forward hook on each stage's ``module`` sees the stage map (Swin: its tokens)."""
    t_model, m_model = _twins(name)
    x = _input(name, rng)
    seen = []
    hooks = [t_model.get_submodule(module).register_forward_hook(
        lambda mod, args, out: seen.append(out.detach().numpy()))
        for module in t_model.feature_info.module_name()]
    maps = _run(t_model, x, "forward_intermediates", intermediates_only=True)
    for hook in hooks:
        hook.remove()
    assert len(seen) == len(maps)
    for hooked, fmap in zip(seen, maps):
        if hooked.ndim == 3:  # Swin tokens (B, H*W, C), row-major
            b, c, h, w = fmap.shape
            hooked = hooked.reshape(b, h, w, c).transpose(0, 3, 1, 2)
        np.testing.assert_array_equal(hooked, fmap)
    cells = dict(m_model.cells_and_names())
    assert all(module in cells for module in m_model.feature_info.module_name())


@pytest.mark.parametrize("framework", sorted(FRAMEWORKS))
@pytest.mark.parametrize("name, out_indices, taken", [
    (RESNET, (1, 3), (1, 3)), (RESNET, (0, -3), (0, 1)),
    (SWIN, (0,), (0,)), (SWIN, (-2, -1), (1, 2))])
def test_out_indices_pick_stages_of_the_full_model(framework, name, out_indices, taken, rng):
    """A features_only model takes the full model's weights (less the parts it does not build)
    and returns exactly the full model's intermediates of those stages."""
    lib = FRAMEWORKS[framework]
    t_full, m_full = _twins(name)
    full = t_full if framework == "torch" else m_full
    model = lib.create_model(name, **_kwargs(name, features_only=True, out_indices=out_indices))
    if framework == "mindspore":
        model.set_train(False)
    else:
        model.eval()
    assert model.feature_info.out_indices == taken
    report = load_weights(model, t_full.state_dict(), skip=model.pruned_prefixes)
    assert not report.skipped  # the pruned parts are absent, not left as built
    pruned = {k for k in report.dropped
              if any(k == p or k.startswith(p + ".") for p in model.pruned_prefixes)}
    assert pruned and all(report.dropped[k].startswith("skipped") for k in pruned)
    assert all(report.dropped[k].startswith("compared") or k.endswith("num_batches_tracked")
               for k in set(report.dropped) - pruned)  # rebuilt buffers, BatchNorm counters
    x = _input(name, rng)
    maps = _run(model, x)
    _check_against_feature_info(maps, model, x.shape)
    expected = _run(full, x, "forward_intermediates", indices=out_indices,
                    intermediates_only=True)
    for a, b in zip(maps, expected, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", [RESNET, SWIN])
def test_trunk_names_are_unchanged(name):
    """features_only drops whole prefixes (pruned_prefixes); the other names are the full
    model's."""
    full = torch_ref.create_model(name, **_kwargs(name))
    features = torch_ref.create_model(name, **_kwargs(name, features_only=True,
                                                      out_indices=(0, 1)))
    pruned = features.pruned_prefixes
    expected = (("layer3", "layer4", "fc") if name == RESNET
                else ("layers.2", "layers.1.downsample", "norm", "head"))
    assert pruned == expected
    kept = [k for k in full.state_dict()
            if not any(k == p or k.startswith(p + ".") for p in pruned)]
    assert list(features.state_dict()) == kept
    m_features = ms_acmix.create_model(name, **_kwargs(name, features_only=True,
                                                       out_indices=(0, 1)))
    assert m_features.pruned_prefixes == pruned


@pytest.mark.parametrize("framework", sorted(FRAMEWORKS))
@pytest.mark.parametrize("name", [RESNET, SWIN])
def test_forward_intermediates(framework, name, rng):
    t_model, m_model = _twins(name)
    model = t_model if framework == "torch" else m_model
    x = _input(name, rng)
    final, maps = _run(model, x, "forward_intermediates")
    np.testing.assert_array_equal(final, _run(model, x, "forward_features"))
    _check_against_feature_info(maps, model, x.shape)
    last_two = _run(model, x, "forward_intermediates", indices=2, stop_early=True,
                    intermediates_only=True)
    for a, b in zip(last_two, maps[-2:], strict=True):
        np.testing.assert_array_equal(a, b)
    first = _run(model, x, "forward_intermediates", indices=[0], stop_early=True,
                 intermediates_only=True)
    np.testing.assert_array_equal(first[0], maps[0])
    normed = _run(model, x, "forward_intermediates", norm=True, intermediates_only=True)
    for a, b in zip(normed[:-1], maps[:-1]):
        np.testing.assert_array_equal(a, b)
    if name == RESNET:  # no final norm: the last stage map is the final features
        np.testing.assert_array_equal(normed[-1], maps[-1])
        np.testing.assert_array_equal(maps[-1], final)
    else:  # the final norm on the last stage: forward_features' tokens, NCHW
        b, c, h, w = normed[-1].shape
        np.testing.assert_array_equal(normed[-1], final.reshape(b, h, w, c).transpose(0, 3, 1, 2))
        assert not np.array_equal(normed[-1], maps[-1])


BAD_OUT_INDICES = [
    (4, "out_indices=4: an int takes the last out_indices stages, so it must be 1 to 3"),
    (0, "out_indices=0: an int takes the last out_indices stages, so it must be 1 to 3"),
    ((0, 3), "out_indices=(0, 3): stage 3 does not exist; the model has 3 stages (0 to 2, or "
             "negative from the end)"),
    ((-4,), "out_indices=(-4,): stage -4 does not exist"),
    ((2, 1), "out_indices=(2, 1) must name each stage once, in increasing order"),
    ((1, -2), "out_indices=(1, -2) must name each stage once, in increasing order"),
    ((), "out_indices must be None, an int or a non-empty sequence of stage indices, got "
         "out_indices=()"),
    ("1", "got out_indices='1'"),
    ((1.0,), "got out_indices=(1.0,)"),
    (True, "got out_indices=True"),
]


@pytest.mark.parametrize("value, message", BAD_OUT_INDICES,
                         ids=[repr(v) for v, _ in BAD_OUT_INDICES])
def test_bad_out_indices_are_a_clear_error(value, message):
    errors = []
    for lib in (torch_ref, ms_acmix):
        with pytest.raises(ValueError) as info:
            lib.create_model(SWIN, **_kwargs(SWIN, features_only=True, out_indices=value))
        errors.append(str(info.value))
    assert errors[0] == errors[1]
    assert message in errors[0]


@pytest.mark.parametrize("framework", sorted(FRAMEWORKS))
def test_bad_arguments_of_the_features_api(framework):
    lib = FRAMEWORKS[framework]
    with pytest.raises(ValueError, match=r"out_indices=\(1, 2\) is only used with features_only"):
        lib.create_model(RESNET, **_kwargs(RESNET, out_indices=(1, 2)))
    model = lib.create_model(SWIN, **_kwargs(SWIN))
    x = _input(SWIN, np.random.default_rng(0))
    cases = [
        (dict(indices=5), r"indices=5: an int takes the last indices stages"),
        (dict(output_fmt="NHWC"), r"output_fmt must be one of \('NCHW',\), got output_fmt='NHWC'"),
        (dict(stop_early=True), r"stop_early=True needs intermediates_only=True"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            _run(model, x, "forward_intermediates", **kwargs)
    features = lib.create_model(SWIN, **_kwargs(SWIN, features_only=True, out_indices=(0, 1)))
    with pytest.raises(ValueError, match=r"indices=None: stage 2 was not built"):
        _run(features, x, "forward_intermediates")
    with pytest.raises(ValueError, match=r"norm=True: this model was built without the final"):
        _run(features, x, "forward_intermediates", indices=(1,), norm=True)
    with pytest.raises(ValueError, match="reset_classifier: a features_only model"):
        features.reset_classifier(3)
    with pytest.raises(ValueError, match="num_classes=-1"):
        model.reset_classifier(-1)


@pytest.mark.parametrize("framework", sorted(FRAMEWORKS))
@pytest.mark.parametrize("name", [RESNET, SWIN])
def test_reset_classifier(framework, name, rng):
    lib = FRAMEWORKS[framework]
    model = lib.create_model(name, **_kwargs(name))
    attr = "fc" if name == RESNET else "head"
    x = _input(name, rng)
    pooled_width = model.num_features
    assert model.pruned_prefixes == ()
    model.reset_classifier(7)
    assert model.num_classes == 7 and model.get_classifier() is getattr(model, attr)
    assert _run(model.set_train(False) if framework == "mindspore" else model.eval(), x).shape \
        == (x.shape[0], 7)
    if framework == "torch":
        assert [k for k in model.state_dict() if k.startswith(attr)] == [f"{attr}.weight",
                                                                         f"{attr}.bias"]
        if name == SWIN:  # the official head init (zero bias), not torch's default Linear init
            assert not model.head.bias.any()
    else:
        names = {k: p.name for k, p in model.parameters_and_names() if k.startswith(attr)}
        assert names == {f"{attr}.weight": f"{attr}.weight", f"{attr}.bias": f"{attr}.bias"}
    model.reset_classifier(0)
    assert model.num_classes == 0 and model.pruned_prefixes == (attr,)
    assert _run(model, x).shape == (x.shape[0], pooled_width)


def test_reset_classifier_of_a_nested_mindspore_model():
    """A replaced Cell is given the prefix of the Cell the model sits in."""
    class Wrapper(nn.Cell):
        def __init__(self):
            super().__init__()
            self.backbone = ms_acmix.create_model(SWIN, **_kwargs(SWIN))

        def construct(self, x):
            return self.backbone(x)

    wrapper = Wrapper()
    wrapper.backbone.reset_classifier(4)
    names = [(k, p.name) for k, p in wrapper.parameters_and_names()]
    assert all(k == name for k, name in names)
    assert ("backbone.head.weight", "backbone.head.weight") in names


@pytest.mark.parametrize("name", [RESNET, SWIN])
def test_graph_mode_features_only(name, rng):
    """construct's list of maps under ms.jit."""
    _, m_model = _twins(name, features_only=True, out_indices=(-2, -1))
    x = _input(name, rng)
    pynative = _run(m_model, x)
    graph = ms.jit(m_model.construct)(Tensor(x))
    assert isinstance(graph, list) and len(graph) == len(pynative) == 2
    for a, b in zip(graph, pynative):
        assert_close(a.asnumpy(), b, what=f"{name} features GRAPH against PYNATIVE")


def test_graph_mode_forward_intermediates(rng):
    """(final, [maps]) under ms.jit, the final norm on the last map."""
    _, m_model = _twins(SWIN)
    x = _input(SWIN, rng)
    final, maps = ms.jit(m_model.forward_intermediates)(Tensor(x), (1, 2), True)
    expected_final, expected = _run(m_model, x, "forward_intermediates", indices=(1, 2),
                                    norm=True)
    assert_close(final.asnumpy(), expected_final, what="final features GRAPH against PYNATIVE")
    assert isinstance(maps, list) and len(maps) == len(expected) == 2
    for a, b in zip(maps, expected):
        assert_close(a.asnumpy(), b, what="intermediates GRAPH against PYNATIVE")
