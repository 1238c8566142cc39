"""Reading checkpoint files safely and finding the weights in every wrapping real files have."""
import contextlib
import os
import sys
import types
import zipfile
from collections import OrderedDict

import numpy as np
import pytest
import torch

from ckpt_convert.errors import CheckpointError
from ckpt_convert.formats import SAFETENSORS, TORCH, sniff_format
from ckpt_convert.safe_pickle import load_torch_pickle
from ckpt_convert.unwrap import unwrap_mindspore, unwrap_torch


def _state(seed: int = 0) -> "OrderedDict[str, torch.Tensor]":
    g = torch.Generator().manual_seed(seed)
    return OrderedDict([("conv1.weight", torch.randn(4, 3, 3, 3, generator=g)),
                        ("bn1.running_mean", torch.randn(4, generator=g)),
                        ("bn1.num_batches_tracked", torch.tensor(7))])


class _FakeCfgNode(dict):
    """Pickles like yacs 0.1.8's CfgNode: a dict subclass with its own ``__dict__`` state."""

    def __init__(self, init=None, new_allowed=False):
        super().__init__(init or {})
        self.__dict__["__immutable__"] = False
        self.__dict__["__deprecated_keys__"] = set()
        self.__dict__["__renamed_keys__"] = {}
        self.__dict__["__new_allowed__"] = new_allowed

    def __getattr__(self, name):
        if name in self:
            return self[name]
        raise AttributeError(name)


@contextlib.contextmanager
def _fake_yacs():
    """Install ``yacs.config.CfgNode`` only while saving; loading must not need it."""
    package, module = types.ModuleType("yacs"), types.ModuleType("yacs.config")
    _FakeCfgNode.__module__, _FakeCfgNode.__qualname__ = "yacs.config", "CfgNode"
    module.CfgNode, package.config = _FakeCfgNode, module
    sys.modules.update({"yacs": package, "yacs.config": module})
    try:
        yield _FakeCfgNode
    finally:
        del sys.modules["yacs"], sys.modules["yacs.config"]


def official_swin_checkpoint(state, path) -> None:
    """The official Swin training script's layout, config included."""
    with _fake_yacs() as cfg_node:
        config = cfg_node({"MODEL": cfg_node({"TYPE": "swin", "NAME": "acmix_swin_tiny",
                                              "NUM_CLASSES": 1000,
                                              "SWIN": cfg_node({"DEPTHS": [2, 2, 6, 2]})}),
                           "DATA": cfg_node({"IMG_SIZE": 224}), "AMP_OPT_LEVEL": "O1"})
        config.__dict__["__immutable__"] = True  # the script freezes it
        optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.ones(2))]).state_dict()
        torch.save({"model": state, "optimizer": optimizer,
                    "lr_scheduler": {"t_initial": 300, "warmup_t": 20, "base_values": [5e-4]},
                    "max_accuracy": 81.9, "epoch": 299, "config": config}, path)


def test_official_swin_wrapping_loads_without_yacs(tmp_path):
    path = tmp_path / "ckpt_epoch_299.pth"
    official_swin_checkpoint(_state(), path)
    assert "yacs" not in sys.modules
    obj = load_torch_pickle(str(path))
    assert obj["config"]["MODEL"]["SWIN"]["DEPTHS"] == [2, 2, 6, 2]
    weights = unwrap_torch(str(path), obj, use_ema=False)
    assert list(weights.arrays) == list(_state())
    assert all(np.array_equal(weights.arrays[k], v.numpy()) for k, v in _state().items())
    assert "'model'" in weights.taken and "official Swin" in weights.taken
    notes = " ".join(weights.notes)
    assert "optimizer, lr_scheduler, max_accuracy, epoch, config" in notes
    assert "MODEL.NAME=acmix_swin_tiny" in notes and "yacs" not in sys.modules


def test_official_resnet_wrapping_strips_module_prefix(tmp_path):
    path = tmp_path / "model_best.pth.tar"
    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    torch.save({"epoch": 90, "arch": "acmix_resnet26", "best_acc1": torch.tensor(76.1),
                "state_dict": {"module." + k: v for k, v in _state().items()},
                "optimizer": optimizer.state_dict(),
                "scheduler": torch.optim.lr_scheduler.StepLR(optimizer, 30).state_dict()}, path)
    weights = unwrap_torch(str(path), load_torch_pickle(str(path)), use_ema=False)
    assert list(weights.arrays) == list(_state())
    assert "official ResNet" in weights.taken and "best_acc1 76.100" in weights.taken
    assert any("'module.'" in n for n in weights.notes)


def test_ema_copy_is_taken_only_when_asked_and_the_report_says_which(tmp_path):
    path = tmp_path / "ema.pth"
    torch.save({"model": _state(0), "model_ema": _state(1), "epoch": 3}, path)
    obj = load_torch_pickle(str(path))
    plain = unwrap_torch(str(path), obj, use_ema=False)
    ema = unwrap_torch(str(path), obj, use_ema=True)
    assert np.array_equal(plain.arrays["conv1.weight"], _state(0)["conv1.weight"].numpy())
    assert np.array_equal(ema.arrays["conv1.weight"], _state(1)["conv1.weight"].numpy())
    assert "'model' (model weights)" in plain.taken
    assert any("'model_ema' present but not taken" in n for n in plain.notes)
    assert "'model_ema' (EMA copy, as ema=True asks)" in ema.taken
    only_ema = unwrap_torch(str(path), {"state_dict_ema": _state(1)}, use_ema=False)
    assert "the only weights" in only_ema.taken
    with pytest.raises(CheckpointError, match="ema=True: .* no EMA copy"):
        unwrap_torch(str(path), {"model": _state()}, use_ema=True)


def test_mindspore_training_state_is_dropped_and_ema_selectable():
    w, m = np.ones(3, np.float32), np.full(3, 2.0, np.float32)
    entries = {"fc.weight": w, "moments.fc.weight": m, "ema.fc.weight": m * 2,
               "global_step": np.array([10]), "learning_rate": np.array(0.1, np.float32)}
    plain = unwrap_mindspore("x.ckpt", entries, use_ema=False)
    assert list(plain.arrays) == ["fc.weight"] and np.array_equal(plain.arrays["fc.weight"], w)
    assert set(plain.dropped) == {"moments.fc.weight", "ema.fc.weight", "global_step",
                                  "learning_rate"}
    ema = unwrap_mindspore("x.ckpt", entries, use_ema=True)
    assert np.array_equal(ema.arrays["fc.weight"], m * 2) and "fc.weight" in ema.dropped
    kept = unwrap_mindspore("x.ckpt", {"fc.weight": w, "moments.other": w}, use_ema=False)
    assert "moments.other" in kept.arrays  # not a slot of a parameter: left for the key check


@pytest.mark.parametrize("payload", [(os.system, "touch {marker}"),
                                     (eval, "open({marker!r}, 'w')"),
                                     (exec, "open({marker!r}, 'w')")])
def test_pickle_with_arbitrary_global_is_refused_without_running(tmp_path, payload):
    marker = tmp_path / "was_run"
    func, arg = payload

    class Exploit:
        def __reduce__(self):
            return func, (arg.format(marker=str(marker)),)

    path = tmp_path / "evil.pth"
    torch.save({"model": _state(), "extra": Exploit()}, path)
    with pytest.raises(CheckpointError, match="not allowed in a checkpoint: .*refused"):
        load_torch_pickle(str(path))
    assert not marker.exists()


def test_whole_pickled_module_is_refused(tmp_path):
    path = tmp_path / "module.pth"
    torch.save(torch.nn.Linear(2, 2), path)
    with pytest.raises(CheckpointError, match="torch.nn.modules.linear.Linear"):
        load_torch_pickle(str(path))


def test_numpy_scalars_and_legacy_format_load(tmp_path):
    path = tmp_path / "legacy.pth"
    torch.save({"model": _state(), "max_accuracy": np.float64(81.9), "epoch": np.int64(3)},
               path, _use_new_zipfile_serialization=False)
    obj = load_torch_pickle(str(path))
    assert obj["max_accuracy"] == 81.9 and torch.equal(obj["model"]["conv1.weight"],
                                                        _state()["conv1.weight"])


def test_sniff_names_each_bad_file(tmp_path):
    good = tmp_path / "good.pth"
    torch.save(_state(), good)
    assert sniff_format(str(good)) == TORCH
    from safetensors.torch import save_file
    save_file(dict(_state()), tmp_path / "w.safetensors")
    assert sniff_format(str(tmp_path / "w.safetensors")) == SAFETENSORS
    data, st_data = good.read_bytes(), (tmp_path / "w.safetensors").read_bytes()
    cases = {"missing.pth": None, "empty.pth": b"", "text.pth": b"hello, not weights\n",
             "trunc.pth": data[: len(data) // 2], "trunc.safetensors": st_data[:40]}
    expected = {"missing.pth": "does not exist", "empty.pth": "empty",
                "text.pth": "not a checkpoint", "trunc.pth": "truncated or corrupt",
                "trunc.safetensors": "truncated or corrupt"}
    for name, content in cases.items():
        if content is not None:
            (tmp_path / name).write_bytes(content)
        with pytest.raises(CheckpointError, match=expected[name]):
            sniff_format(str(tmp_path / name))
    with zipfile.ZipFile(tmp_path / "plain.pth", "w") as archive:
        archive.writestr("readme.txt", "a zip, not torch.save")
    with pytest.raises(CheckpointError, match="not a checkpoint: a zip archive without"):
        sniff_format(str(tmp_path / "plain.pth"))


def test_non_state_dict_contents_are_not_checkpoints(tmp_path):
    for obj, match in (([1, 2, 3], "holds a list"), ({"epoch": 3, "note": "x"}, "no state dict")):
        with pytest.raises(CheckpointError, match=match):
            unwrap_torch("x.pth", obj, use_ema=False)
