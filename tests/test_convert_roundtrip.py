"""Conversions both ways: bit-exact round trips, rebuilt buffers, --verify, and wrong conversions
caught."""
import json

import mindspore as ms
import numpy as np
import pytest
import torch

import ms_acmix
import torch_ref
from ckpt_convert import pipeline
from ckpt_convert import formats
from tests.test_convert_cli import (RESNET, SWIN, assert_one_line_error, model_args, run,
                                    torch_state)
from tests.test_convert_load import official_swin_checkpoint
from tests.tiny_models import TINY


def _load_torch(path):
    if str(path).endswith(".safetensors"):
        from safetensors.torch import load_file
        return load_file(str(path))
    return torch.load(path, weights_only=True)


@pytest.mark.parametrize("name", [RESNET, SWIN])
@pytest.mark.parametrize("ms_ext, torch_ext", [(".ckpt", ".pth.tar"),
                                               (".safetensors", ".safetensors")])
def test_torch_ms_torch_is_bit_exact(capsys, tmp_path, name, ms_ext, torch_ext):
    state = torch_state(name)
    torch.save(state, tmp_path / "src.pth")
    ms_file, back = tmp_path / f"mid{ms_ext}", tmp_path / f"back{torch_ext}"
    assert run(capsys, "torch2ms", tmp_path / "src.pth", ms_file, *model_args(name))[0] == 0
    assert run(capsys, "ms2torch", ms_file, back, *model_args(name))[0] == 0
    returned = _load_torch(back)
    assert sorted(returned) == sorted(state)  # safetensors keeps keys sorted, not in model order
    for key, value in state.items():
        if key.endswith("num_batches_tracked"):  # dropped on purpose; comes back as the model's 0
            assert returned[key].item() == 0
        else:
            assert returned[key].dtype == value.dtype and torch.equal(returned[key], value), key
    net = ms_acmix.create_model(name, **TINY[name][0])  # the MindSpore file loads strictly
    entries = ms.load_checkpoint(str(ms_file), format=ms_ext[1:])
    assert ms.load_param_into_net(net, entries, strict_load=True) == ([], [])


def test_mindspore_training_checkpoint_to_torch(capsys, tmp_path):
    net = ms_acmix.create_model(RESNET, **TINY[RESNET][0])
    params = net.parameters_dict()
    entries = [{"name": k, "data": p} for k, p in params.items()]
    entries += [{"name": f"moments.{k}", "data": ms.Tensor(np.zeros(p.shape, np.float32))}
                for k, p in params.items()]
    entries += [{"name": "global_step", "data": ms.Tensor(np.array([500], np.int32))},
                {"name": "learning_rate", "data": ms.Tensor(np.array(0.1, np.float32))}]
    ms.save_checkpoint(entries, str(tmp_path / "train.ckpt"))
    report = tmp_path / "r.json"
    code, out, _ = run(capsys, "ms2torch", tmp_path / "train.ckpt", tmp_path / "r26.pth",
                       *model_args(RESNET), "--verify", "--report", report)
    assert code == 0 and "passed" in out
    rows = {r["source"]: r["action"] for r in json.loads(report.read_text())["entries"]}
    assert rows["global_step"].startswith("dropped: training state")
    assert rows["moments.fc.weight"].startswith("dropped: moments slot")
    model = torch_ref.create_model(RESNET, **TINY[RESNET][0])
    model.load_state_dict(torch.load(tmp_path / "r26.pth", weights_only=True), strict=True)
    assert torch.equal(model.bn1.weight, torch.from_numpy(params["bn1.gamma"].asnumpy()))


@pytest.mark.parametrize("tamper, phrase", [
    ("index", "layers.0.blocks.0.attn.relative_position_index: 2 of 256 values differ"),
    ("mask", "layers.0.blocks.1.attn_mask: 1 of 4096 values differ"),
    ("extra_mask", "layers.0.blocks.0.attn_mask: in the source, but the model has none there"),
    ("img_size", "layers.0.blocks.1.attn_mask: shape (64, 16, 16) vs model (16, 16, 16)"),
])
def test_rebuilt_buffer_mismatch_is_an_error(capsys, tmp_path, tamper, phrase):
    state = torch_state(SWIN, img_size=64) if tamper == "img_size" else torch_state(SWIN)
    if tamper == "index":
        index = state["layers.0.blocks.0.attn.relative_position_index"].view(-1)
        index[[0, 1]] = index[[1, 0]]
    elif tamper == "mask":
        state["layers.0.blocks.1.attn_mask"][0, 0, -1] = 1.0
    elif tamper == "extra_mask":
        state["layers.0.blocks.0.attn_mask"] = state["layers.0.blocks.1.attn_mask"]
    torch.save(state, tmp_path / "src.pth")
    code, _, err = run(capsys, "torch2ms", tmp_path / "src.pth", tmp_path / "o.ckpt",
                       *model_args(SWIN))
    assert_one_line_error(code, err, "from what the model computes (first: " + phrase)
    assert not (tmp_path / "o.ckpt").exists()


def test_rebuilt_buffers_absent_from_source_are_fine(capsys, tmp_path):
    state = {k: v for k, v in torch_state(SWIN).items()
             if not k.endswith(("relative_position_index", "attn_mask"))}
    torch.save(state, tmp_path / "src.pth")
    report = tmp_path / "r.json"
    assert run(capsys, "torch2ms", tmp_path / "src.pth", tmp_path / "o.ckpt", *model_args(SWIN),
               "--report", report)[0] == 0
    actions = [r["action"] for r in json.loads(report.read_text())["entries"]]
    assert sum(a.startswith("rebuilt: computed by the target model") for a in actions) == 6


def _plan_bug(monkeypatch, bug):
    """Make the converter itself wrong: ``bug`` edits the arrays it is about to write."""
    real = pipeline.make_plan

    def buggy(*args):
        plan = real(*args)
        bug(plan.arrays)
        return plan

    monkeypatch.setattr(pipeline, "make_plan", buggy)


def test_verify_passes_and_prints_the_largest_difference(capsys, tmp_path):
    torch.save(torch_state(SWIN), tmp_path / "src.pth")
    code, out, _ = run(capsys, "torch2ms", tmp_path / "src.pth", tmp_path / "o.ckpt",
                       *model_args(SWIN), "--verify", "-q")
    line = next(ln for ln in out.splitlines() if ln.startswith("verify:"))
    assert code == 0 and "top-1 agrees 2/2" in line and "passed" in line
    assert float(line.split("max |logit difference| ")[1].split()[0]) < 1e-6


@pytest.mark.parametrize("name, key", [(SWIN, "layers.0.blocks.0.attn.proj.weight"),
                                       (RESNET, "layer1.0.conv2.conv1.weight")])
def test_verify_catches_a_transposed_weight(capsys, tmp_path, monkeypatch, name, key):
    torch.save(torch_state(name), tmp_path / "src.pth")
    ms_key = key

    def transpose(arrays):
        arrays[ms_key] = np.ascontiguousarray(np.swapaxes(arrays[ms_key], 0, 1))

    _plan_bug(monkeypatch, transpose)
    code, _, err = run(capsys, "torch2ms", tmp_path / "src.pth", tmp_path / "o.ckpt",
                       *model_args(name), "--verify")
    assert_one_line_error(code, err, "--verify failed", "nothing written to DST=", exit_code=1)
    assert not (tmp_path / "o.ckpt").exists()


def test_swapped_norm_parameters_are_caught_by_verify(capsys, tmp_path, monkeypatch):
    torch.save(torch_state(SWIN), tmp_path / "src.pth")

    def swap(arrays):
        arrays["norm.gamma"], arrays["norm.beta"] = arrays["norm.beta"], arrays["norm.gamma"]

    _plan_bug(monkeypatch, swap)
    code, _, err = run(capsys, "torch2ms", tmp_path / "src.pth", tmp_path / "o.ckpt",
                       *model_args(SWIN), "--verify")
    assert_one_line_error(code, err, "--verify failed", exit_code=1)


def test_missing_key_in_the_output_is_caught(capsys, tmp_path, monkeypatch):
    torch.save(torch_state(RESNET), tmp_path / "src.pth")
    _plan_bug(monkeypatch, lambda arrays: arrays.pop("layer1.0.bn2.moving_mean"))
    code, _, err = run(capsys, "torch2ms", tmp_path / "src.pth", tmp_path / "o.ckpt",
                       *model_args(RESNET))
    assert_one_line_error(code, err,
                          "1 model entries left unloaded (first: 'layer1.0.bn2.moving_mean')",
                          exit_code=1)
    assert not (tmp_path / "o.ckpt").exists()


def test_writer_that_corrupts_data_is_caught(capsys, tmp_path, monkeypatch):
    torch.save(torch_state(RESNET), tmp_path / "src.pth")
    real = formats.write_file

    def corrupting(arrays, path, fmt, framework):
        arrays = dict(arrays, **{"fc.weight": arrays["fc.weight"] + np.float32(1e-7)})
        real(arrays, path, fmt, framework)

    monkeypatch.setattr(formats, "write_file", corrupting)
    code, _, err = run(capsys, "torch2ms", tmp_path / "src.pth", tmp_path / "o.ckpt",
                       *model_args(RESNET))
    assert_one_line_error(code, err, "does not read back as planned: 'fc.weight'", exit_code=1)
    assert not (tmp_path / "o.ckpt").exists()


def test_full_size_official_swin_t_round_trip_with_verify(capsys, tmp_path):
    torch.manual_seed(0)
    state = torch_ref.create_model(SWIN).state_dict()
    official_swin_checkpoint(state, tmp_path / "acmix_swin_tiny.pth")
    code, out, _ = run(capsys, "torch2ms", tmp_path / "acmix_swin_tiny.pth",
                       tmp_path / "swin_t.ckpt", "--model", SWIN, "--verify", "-q")
    assert code == 0, out
    assert "official Swin training checkpoint (epoch 299, max_accuracy 81.9)" in out
    assert "entries: compared 17, mapped 233" in out and "passed" in out
    assert run(capsys, "ms2torch", tmp_path / "swin_t.ckpt", tmp_path / "back.pth",
               "--model", SWIN, "-q")[0] == 0
    back = torch.load(tmp_path / "back.pth", weights_only=True)
    assert list(back) == list(state) and all(torch.equal(back[k], v) for k, v in state.items())


def test_half_precision_is_upcast_exactly_and_double_is_refused(capsys, tmp_path):
    state = torch_state(RESNET)
    half = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    torch.save(half, tmp_path / "half.pth")
    report = tmp_path / "r.json"
    assert run(capsys, "torch2ms", tmp_path / "half.pth", tmp_path / "o.ckpt",
               *model_args(RESNET), "--report", report)[0] == 0
    rows = {r["source"]: r for r in json.loads(report.read_text())["entries"]}
    assert rows["fc.weight"]["action"] == "mapped; cast float16 -> float32 (exact)"
    written = ms.load_checkpoint(str(tmp_path / "o.ckpt"))["fc.weight"].asnumpy()
    assert np.array_equal(written, half["fc.weight"].float().numpy())
    torch.save({k: v.double() if v.is_floating_point() else v for k, v in state.items()},
               tmp_path / "double.pth")
    code, _, err = run(capsys, "torch2ms", tmp_path / "double.pth", tmp_path / "d.ckpt",
                       *model_args(RESNET))
    assert_one_line_error(code, err, "dtype clashes (first: conv1.weight: source float64 vs "
                                     "model float32 (casting would lose precision))")
