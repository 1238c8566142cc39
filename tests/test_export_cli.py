"""scripts/export.py: refusals name the argument (or op), nothing is written on failure, and
checkpoints of either framework reach the exported graph."""
import json
import os
import subprocess
import sys

import mindspore as ms
import numpy as np
import onnx
import pytest
import torch

import torch_ref
from model_export import ExportError, to_onnx
from ms_acmix.cli.export import main
from model_export.onnx_check import opset_of, run
from acmix_common.tolerance import compare

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY_RESNET = dict(base_planes=4, layers=[1, 1, 1, 1], num_classes=3, k_att=3, head=2)
TINY_SWIN = dict(img_size=32, patch_size=4, embed_dim=8, depths=[2, 1], num_heads=[2, 4],
                 window_size=4, num_classes=3, drop_path_rate=0.0)


def _refused(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err, err


@pytest.mark.parametrize("argv,message", [
    (["--model", "acmix_resnet26", "--framework", "torch", "--format", "mindir"],
     "--framework='torch' --format='mindir': MINDIR is MindSpore's graph format"),
    (["--model", "acmix_resnet26", "--opset", "7"], "--opset=7: supported opsets are 13 to"),
    (["--model", "acmix_resnet99"], "--model='acmix_resnet99' is not a registered model"),
    (["--model", "acmix_resnet26", "--checkpoint", "/nonexistent/w.pth"],
     "--checkpoint='/nonexistent/w.pth' does not exist"),
    (["--model", "acmix_resnet26", "--model-kwargs", "[1]"], "must be a JSON object"),
    (["--model", "acmix_resnet26", "--model-kwargs", '{"k_att": 4}'], "k_att"),
    (["--model", "acmix_resnet26", "--img-size", "0"], "--img-size=0 must be >= 1"),
])
def test_bad_requests_are_refused_by_name(capsys, tmp_path, argv, message):
    out = tmp_path / "model.onnx"
    _refused(capsys, argv + ["--output", str(out)], message)
    assert os.listdir(tmp_path) == []


def test_output_extension_must_match_the_format(capsys, tmp_path):
    _refused(capsys, ["--model", "acmix_resnet26", "--format", "onnx", "--output",
                      str(tmp_path / "m.mindir")], "must end with .onnx")


def test_an_op_the_exporter_lacks_is_named():
    class NativeGelu(ms.nn.Cell):
        def construct(self, x):
            return ms.ops.gelu(x, approximate="none")
    with pytest.raises(ExportError, match=r"cannot export op Erf to ONNX"):
        to_onnx(NativeGelu(), "ms", (2, 4, 4), 18)


def test_nothing_is_written_when_a_check_fails(monkeypatch, capsys, tmp_path):
    def broken(*args, **kwargs):
        raise ExportError("onnxruntime's output at batch 1 differs from the model's")
    monkeypatch.setattr("model_export.onnx_check.check_outputs", broken)
    _refused(capsys, ["--model", "acmix_swin_tiny", "--model-kwargs", json.dumps(TINY_SWIN),
                      "--output", str(tmp_path / "m.onnx")], "differs from the model's")
    assert os.listdir(tmp_path) == []


def _official_torch_checkpoint(path, name, kwargs):
    torch.manual_seed(0)
    model = torch_ref.create_model(name, **kwargs).eval()
    torch.save({"model": model.state_dict(), "epoch": 3}, path)  # the official wrapping
    return model


def test_torch_checkpoint_into_the_mindspore_onnx_at_another_opset(capsys, tmp_path):
    src, out = tmp_path / "w.pth", tmp_path / "m.onnx"
    model = _official_torch_checkpoint(src, "acmix_resnet26", TINY_RESNET)
    assert main(["--model", "acmix_resnet26", "--framework", "ms", "--checkpoint", str(src),
                 "--model-kwargs", json.dumps(TINY_RESNET), "--img-size", "40", "--opset", "17",
                 "--output", str(out)]) == 0
    assert "opset 17, batch dynamic" in capsys.readouterr().out
    proto = onnx.load(str(out))
    assert opset_of(proto) == 17
    x = np.random.default_rng(0).standard_normal((3, 3, 40, 40)).astype(np.float32)
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    assert compare(run(proto, x), want).ok


def test_mindspore_checkpoint_into_the_torch_onnx_and_mindir(capsys, tmp_path):
    import ms_acmix
    ms.set_seed(0)
    model = ms_acmix.create_model("acmix_swin_tiny", **TINY_SWIN)
    model.set_train(False)
    ckpt = tmp_path / "w.ckpt"
    ms.save_checkpoint(model, str(ckpt))
    x = np.random.default_rng(1).standard_normal((2, 3, 32, 32)).astype(np.float32)
    want = model(ms.Tensor(x)).asnumpy()
    common = ["--model", "acmix_swin_tiny", "--checkpoint", str(ckpt), "--model-kwargs",
              json.dumps(TINY_SWIN)]
    assert main(common + ["--framework", "torch", "--output", str(tmp_path / "t.onnx")]) == 0
    assert compare(run(onnx.load(str(tmp_path / "t.onnx")), x), want).ok
    assert main(common + ["--format", "mindir", "--batch-size", "2", "--output",
                          str(tmp_path / "m.mindir")]) == 0
    graph = ms.nn.GraphCell(ms.load(str(tmp_path / "m.mindir")))
    assert compare(graph(ms.Tensor(x)).asnumpy(), want).ok
    assert "reloaded logits match" in capsys.readouterr().out


def test_help_names_every_option():
    out = subprocess.run([sys.executable, "-m", "ms_acmix.cli.export", "--help"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    for option in ("--model", "--framework", "--format", "--checkpoint", "--img-size",
                   "--opset", "--output"):
        assert option in out
