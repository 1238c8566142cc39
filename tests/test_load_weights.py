"""ckpt_convert.read_weights / load_weights and create_model(checkpoint_path=...): any supported
file of either framework into a built model of either framework, strictly."""
import mindspore as ms
import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import ms_acmix
import torch_ref
from acmix_common.tolerance import assert_close
from ckpt_convert import CheckpointError, load_weights, read_weights
from torch_ref.models.testing import draw_weights_

from .tiny_models import TINY

RESNET, SWIN = "acmix_resnet26", "acmix_swin_tiny"


def _torch(name, seed=0, **overrides):
    model = torch_ref.create_model(name, **{**TINY[name][0], **overrides}).eval()
    draw_weights_(model, seed)
    return model


def _ms(name, **overrides):
    model = ms_acmix.create_model(name, **{**TINY[name][0], **overrides})
    model.set_train(False)
    return model


def _logits(model, x):
    if isinstance(model, torch.nn.Module):
        with torch.no_grad():
            return model(torch.from_numpy(x)).numpy()
    return model(ms.Tensor(x)).asnumpy()


def _input(name):
    return np.random.default_rng(0).standard_normal(TINY[name][1]).astype(np.float32)


@pytest.fixture(scope="module")
def swin_files(tmp_path_factory):
    """The same Swin weights as the official training checkpoint, safetensors and a MindSpore
    .ckpt with optimizer slots and an EMA copy of every parameter."""
    root = tmp_path_factory.mktemp("weights")
    model = _torch(SWIN)
    state = model.state_dict()
    torch.save({"model": state, "optimizer": {}, "lr_scheduler": {}, "max_accuracy": 81.9,
                "epoch": 299, "config": {"MODEL": {"TYPE": "swin"}}}, root / "official.pth")
    save_file({k: v.contiguous() for k, v in state.items()}, str(root / "w.safetensors"),
              metadata={"format": "pt"})
    net = _ms(SWIN)
    load_weights(net, state)
    entries = [{"name": n, "data": p.data} for n, p in net.parameters_and_names()]
    entries += [{"name": "moments." + n, "data": p.data} for n, p in net.parameters_and_names()]
    entries += [{"name": "ema." + n, "data": p.data * 0.5} for n, p in net.parameters_and_names()]
    ms.save_checkpoint(entries, str(root / "train.ckpt"))
    ms.save_checkpoint(net, str(root / "ms.safetensors"), format="safetensors")
    return root, model


@pytest.mark.parametrize("file,fmt,naming", [("official.pth", "torch", "torch"),
                                             ("w.safetensors", "safetensors", "torch"),
                                             ("ms.safetensors", "safetensors", "mindspore"),
                                             ("train.ckpt", "ckpt", "mindspore")])
def test_every_format_reads_as_the_same_torch_named_weights(swin_files, file, fmt, naming):
    root, model = swin_files
    arrays, info = read_weights(root / file)
    assert (info.format, info.naming, info.ema) == (fmt, naming, False)
    params = {k: v.detach().numpy() for k, v in model.named_parameters()}
    assert set(params) <= set(arrays)
    for name, value in params.items():
        assert np.array_equal(arrays[name], value), name


def test_ema_copy_is_taken_on_request_and_slots_are_dropped(swin_files):
    root, model = swin_files
    arrays, info = read_weights(root / "train.ckpt", ema=True)
    weight = model.state_dict()["head.weight"].numpy()
    assert info.ema and np.array_equal(arrays["head.weight"], weight * np.float32(0.5))
    assert not any(k.startswith(("moments.", "ema.")) for k in arrays)
    assert info.dropped["moments.head.weight"].startswith("dropped: moments slot")
    with pytest.raises(CheckpointError, match=r"official\.pth' has no EMA copy"):
        read_weights(root / "official.pth", ema=True)


@pytest.mark.parametrize("file", ["official.pth", "train.ckpt", "ms.safetensors"])
def test_either_framework_loads_any_file_to_the_same_logits(swin_files, file):
    root, model = swin_files
    x = _input(SWIN)
    want = _logits(model, x)
    t_model, m_model = _torch(SWIN, seed=1), _ms(SWIN)
    report = load_weights(t_model, root / file)
    assert report.framework == "torch" and report.skipped == []
    assert np.array_equal(_logits(t_model, x), want)  # float32 in, float32 out: bit for bit
    assert load_weights(m_model, root / file).framework == "mindspore"
    assert_close(_logits(m_model, x), want, what=f"MindSpore from {file}")


def test_skip_leaves_the_classifier_as_built_and_everything_else_is_strict(tmp_path):
    path = tmp_path / "r.pth.tar"
    state = _torch(RESNET).state_dict()
    torch.save({"state_dict": {"module." + k: v for k, v in state.items()}, "epoch": 1,
                "arch": "acmix_resnet26", "best_acc1": 70.0}, path)
    net = _ms(RESNET, num_classes=7)
    before = net.fc.weight.asnumpy().copy()
    with pytest.raises(CheckpointError, match=r"r\.pth\.tar' does not fit the mindspore "
                                              r"ACmixResNet: 2 shape clashes \(first: fc\.weight"):
        load_weights(net, path)
    report = load_weights(net, path, skip=("fc",))
    assert report.skipped == ["fc.bias", "fc.weight"]
    assert np.array_equal(net.fc.weight.asnumpy(), before)
    assert np.array_equal(net.conv1.weight.asnumpy(), state["conv1.weight"].numpy())
    assert report.dropped["fc.weight"].startswith("skipped")


@pytest.mark.parametrize("change,message", [
    (lambda s: s.pop("layer1.0.conv2.rate1"), r"1 missing \(first: layer1\.0\.conv2\.rate1\)"),
    (lambda s: s.update(extra=torch.zeros(1)), r"1 unexpected \(first: extra\)"),
    (lambda s: s.update({"layers.0.blocks.0.attn.relative_position_index":
                         s["layers.0.blocks.0.attn.relative_position_index"].flip(0)}),
     r"rebuilt buffer differs"),
])
def test_a_dict_that_does_not_fit_is_one_line_naming_the_problem(change, message):
    name = SWIN if "relative" in message or "rebuilt" in message else RESNET
    state = dict(_torch(name).state_dict())
    change(state)
    with pytest.raises(CheckpointError, match=message) as err:
        load_weights(_torch(name, seed=1), state)
    assert "<dict> does not fit the torch" in str(err.value) and "\n" not in str(err.value)


def test_bad_arguments_are_checkpoint_errors(tmp_path):
    with pytest.raises(CheckpointError, match="neither a MindSpore nn.Cell nor a torch"):
        load_weights(object(), {})
    with pytest.raises(CheckpointError, match="ema=True: the weights are a dict"):
        load_weights(_torch(RESNET), {}, ema=True)
    with pytest.raises(CheckpointError, match=r"path='.*missing\.pth' does not exist"):
        load_weights(_torch(RESNET), tmp_path / "missing.pth")


@pytest.mark.parametrize("create", [ms_acmix.create_model, torch_ref.create_model])
def test_create_model_loads_a_checkpoint_of_the_other_framework(tmp_path, create):
    model = _torch(RESNET)
    path = tmp_path / "w.ckpt"
    net = _ms(RESNET)
    load_weights(net, model.state_dict())
    ms.save_checkpoint(net, str(path))
    built = create(RESNET, checkpoint_path=str(path), **TINY[RESNET][0])
    if isinstance(built, torch.nn.Module):
        built.eval()
    else:
        built.set_train(False)
    x = _input(RESNET)
    want = _logits(model, x)
    assert_close(_logits(built, x), want, what=create.__module__)


@pytest.mark.parametrize("name", [RESNET, SWIN])
def test_a_backbone_takes_the_full_checkpoint(tmp_path, name):
    """features_only builds no classifier and no stage after the last one returned: the full
    file's entries for them are dropped (``pruned_prefixes``), everything else loads strictly."""
    path = tmp_path / "full.pth"
    torch.save(_torch(name).state_dict(), path)
    backbone = ms_acmix.create_model(name, checkpoint_path=str(path), features_only=True,
                                     out_indices=(0,), **TINY[name][0])
    report = load_weights(backbone, path)
    assert report.dropped and all(why.startswith(("not built", "dropped", "compared"))
                                  for why in report.dropped.values())
    assert not any(k.startswith(("fc.", "head.")) for k in report.loaded)
