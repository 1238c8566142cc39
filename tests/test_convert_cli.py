"""The converter's command line: bad input gives exit code 2, one line, and nothing on disk."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import torch_ref
from ckpt_convert import formats
from ms_acmix.cli.convert import main
from tests.tiny_models import TINY

ROOT = Path(__file__).resolve().parents[1]
RESNET, SWIN = "acmix_resnet26", "acmix_swin_tiny"


def torch_state(name: str, seed: int = 0, **overrides):
    """A tiny model's state dict with non-trivial BatchNorm statistics and step counters."""
    torch.manual_seed(seed)
    state = torch_ref.create_model(name, **{**TINY[name][0], **overrides}).state_dict()
    for key, value in state.items():
        if key.endswith(("running_mean", "rate1", "rate2")):
            value.uniform_(-1, 1)
        elif key.endswith("running_var"):
            value.uniform_(0.5, 2)
        elif key.endswith("num_batches_tracked"):
            value.fill_(1234)
    return state


def model_args(name: str, **overrides):
    return ["--model", name, "--model-kwargs", json.dumps({**TINY[name][0], **overrides})]


def run(capsys, *argv):
    """(exit code, stdout, stderr) of the CLI run in this process."""
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code: int, err: str, *phrases: str, exit_code: int = 2) -> None:
    assert code == exit_code, err
    assert err.count("\n") == 1 and err.startswith("acmix-convert: error: "), err
    for phrase in phrases:
        assert phrase in err, err


@pytest.fixture(scope="module")
def resnet_pth(tmp_path_factory):
    path = tmp_path_factory.mktemp("src") / "r26.pth"
    torch.save(torch_state(RESNET), path)
    return path


def test_help_answers():
    result = subprocess.run([sys.executable, "-m", "ms_acmix.cli.convert", "--help"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    for phrase in ("torch2ms", "ms2torch", "--model-kwargs", "--force", "--verify", "--report",
                   "acmix_swin_tiny", "weights-only"):
        assert phrase in result.stdout


def test_real_process_error_is_one_line_with_exit_2(tmp_path):
    result = subprocess.run([sys.executable, "-m", "ms_acmix.cli.convert", "torch2ms",
                             str(tmp_path / "nope.pth"), str(tmp_path / "out.ckpt"),
                             "--model", RESNET], capture_output=True, text=True,
                            timeout=120)
    assert_one_line_error(result.returncode, result.stderr, "nope.pth' does not exist")
    assert not (tmp_path / "out.ckpt").exists()


def test_missing_src(capsys, tmp_path):
    code, _, err = run(capsys, "torch2ms", tmp_path / "missing.pth", tmp_path / "o.ckpt",
                       *model_args(RESNET))
    assert_one_line_error(code, err, "SRC=", "missing.pth' does not exist")


def test_truncated_sources(capsys, tmp_path, resnet_pth):
    data = resnet_pth.read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[: len(data) // 2])
    code, _, err = run(capsys, "torch2ms", tmp_path / "cut.pth", tmp_path / "o.ckpt",
                       *model_args(RESNET))
    assert_one_line_error(code, err, "cut.pth' is truncated or corrupt")
    assert run(capsys, "torch2ms", resnet_pth, tmp_path / "full.ckpt", *model_args(RESNET))[0] == 0
    ckpt = (tmp_path / "full.ckpt").read_bytes()
    (tmp_path / "cut.ckpt").write_bytes(ckpt[: len(ckpt) - 100])
    code, _, err = run(capsys, "ms2torch", tmp_path / "cut.ckpt", tmp_path / "o.pth",
                       *model_args(RESNET))
    assert_one_line_error(code, err, "cut.ckpt' cannot be parsed as a MindSpore checkpoint")
    assert not (tmp_path / "o.pth").exists() and not (tmp_path / "o.ckpt").exists()


@pytest.mark.parametrize("content, phrase", [
    (b"# just some text\n", "is not a checkpoint: its first bytes"),
    ("list", "is not a checkpoint: it holds a list"),
    ("dict", "is not a checkpoint: a dict with keys"),
])
def test_not_a_checkpoint(capsys, tmp_path, content, phrase):
    src = tmp_path / "x.pth"
    if content == "list":
        torch.save([torch.ones(2)], src)
    elif content == "dict":
        torch.save({"epoch": 3, "lr": 0.1}, src)
    else:
        src.write_bytes(content)
    code, _, err = run(capsys, "torch2ms", src, tmp_path / "o.ckpt", *model_args(RESNET))
    assert_one_line_error(code, err, phrase)


def test_wrong_model_names_missing_unexpected_and_clashes(capsys, tmp_path, resnet_pth):
    report = tmp_path / "fail.json"
    code, _, err = run(capsys, "torch2ms", resnet_pth, tmp_path / "o.ckpt", *model_args(SWIN),
                       "--report", report)
    assert_one_line_error(code, err, "does not fit --model='acmix_swin_tiny'",
                          "missing (first: patch_embed.proj.weight)",
                          "unexpected (first: conv1.weight)")
    problems = json.loads(report.read_text())["problems"]
    assert len(problems["missing"]) > 10 and "fc.weight" in problems["unexpected"]
    code, _, err = run(capsys, "torch2ms", resnet_pth, tmp_path / "o.ckpt",
                       *model_args(RESNET, num_classes=7))
    assert_one_line_error(code, err, "2 shape clashes (first: fc.weight: source (5, 256) vs "
                                     "model (7, 256))")
    code, _, err = run(capsys, "torch2ms", resnet_pth, tmp_path / "o.ckpt", "--model", RESNET)
    assert_one_line_error(code, err, "shape clash")  # registry defaults: full-size ResNet-26
    assert not (tmp_path / "o.ckpt").exists()


def test_existing_dst_is_refused_unless_force(capsys, tmp_path, resnet_pth):
    dst = tmp_path / "o.ckpt"
    dst.write_bytes(b"precious")
    code, _, err = run(capsys, "torch2ms", resnet_pth, dst, *model_args(RESNET))
    assert_one_line_error(code, err, "o.ckpt' exists; pass --force")
    assert dst.read_bytes() == b"precious"
    assert run(capsys, "torch2ms", resnet_pth, dst, *model_args(RESNET), "--force")[0] == 0
    assert dst.read_bytes() != b"precious" and os.access(dst, os.W_OK)
    same = tmp_path / "w.safetensors"
    assert run(capsys, "torch2ms", resnet_pth, same, *model_args(RESNET))[0] == 0
    before = same.read_bytes()
    code, _, err = run(capsys, "ms2torch", same, same, *model_args(RESNET), "--force")
    assert_one_line_error(code, err, "is the same file as SRC")
    assert same.read_bytes() == before


def test_failed_write_leaves_no_partial_file(capsys, tmp_path, resnet_pth, monkeypatch):
    dst = tmp_path / "o.ckpt"
    dst.write_bytes(b"old")

    def half_write(arrays, path, fmt, framework):
        Path(path).write_bytes(b"half a checkpoint")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(formats, "write_file", half_write)
    code, _, err = run(capsys, "torch2ms", resnet_pth, dst, *model_args(RESNET), "--force")
    assert_one_line_error(code, err, "cannot write", "No space left on device")
    assert dst.read_bytes() == b"old" and sorted(os.listdir(tmp_path)) == ["o.ckpt"]


def test_pickle_with_os_system_is_refused_via_cli(capsys, tmp_path):
    marker = tmp_path / "was_run"

    class Exploit:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    src = tmp_path / "evil.pth"
    torch.save({"model": torch_state(RESNET), "x": Exploit()}, src)
    code, _, err = run(capsys, "torch2ms", src, tmp_path / "o.ckpt", *model_args(RESNET))
    assert_one_line_error(code, err, "posix.system", "refused without running")
    assert not marker.exists() and not (tmp_path / "o.ckpt").exists()


@pytest.mark.parametrize("argv, phrase", [
    (["ms2torch", "{src}", "{tmp}/o.pth"], "is a PyTorch pickle, which ms2torch does not read"),
    (["torch2ms", "{src}", "{tmp}/o.pth"], "has an extension torch2ms cannot write"),
    (["torch2ms", "{src}", "{tmp}/nodir/o.ckpt"], "does not exist"),
    (["torch2ms", "{src}", "{tmp}/o.ckpt", "--model-kwargs", "{{num_classes: 5}}"], "not JSON"),
    (["torch2ms", "{src}", "{tmp}/o.ckpt", "--model-kwargs", '{{"bogus": 1}}'], "bogus"),
    (["torch2ms", "{src}", "{tmp}/o.ckpt", "--model", "resnet50"],
     "--model='resnet50' is not a registered model"),
    (["torch2ms", "{src}", "{tmp}/o.ckpt", "--ema"], "--ema: SRC="),
])
def test_bad_arguments_name_the_argument(capsys, tmp_path, resnet_pth, argv, phrase):
    argv = [a.format(src=resnet_pth, tmp=tmp_path) for a in argv]
    if "--model-kwargs" in argv:
        argv += ["--model", RESNET]
    elif "--model" not in argv:
        argv += model_args(RESNET)
    code, _, err = run_catching_exit(capsys, argv)
    assert_one_line_error(code, err, phrase)


def run_catching_exit(capsys, argv):
    """Like ``run``, for argparse errors that leave through SystemExit."""
    try:
        return run(capsys, *argv)
    except SystemExit as exc:
        return exc.code, "", capsys.readouterr().err


def test_report_table_and_json(capsys, tmp_path, resnet_pth):
    report = tmp_path / "r.json"
    code, out, _ = run(capsys, "torch2ms", resnet_pth, tmp_path / "o.ckpt", *model_args(RESNET),
                       "--report", report)
    assert code == 0
    assert out.splitlines()[0].split() == ["source", "target", "shape", "dtype", "action"]
    assert ["bn1.running_var", "bn1.moving_variance", "8", "float32", "mapped"] in \
        [line.split() for line in out.splitlines()]
    data = json.loads(report.read_text())
    rows = {r["source"]: r for r in data["entries"]}
    assert rows["bn1.running_var"]["target"] == "bn1.moving_variance"
    assert rows["bn1.num_batches_tracked"]["action"].startswith("dropped: BatchNorm step counter")
    assert rows["fc.weight"] == {"source": "fc.weight", "target": "fc.weight", "shape": [5, 256],
                                 "dtype": "float32", "action": "mapped"}
    state = torch_state(RESNET)
    n_counters = sum(k.endswith("num_batches_tracked") for k in state)
    assert data["counts"] == {"mapped": len(state) - n_counters, "dropped": n_counters}
    assert set(rows) == set(state)  # every source key accounted for


def test_official_resnet_wrapping_converts(capsys, tmp_path):
    state = torch_state(RESNET)
    src = tmp_path / "model_best.pth.tar"
    torch.save({"epoch": 90, "arch": RESNET, "best_acc1": torch.tensor(76.1),
                "state_dict": {"module." + k: v for k, v in state.items()},
                "optimizer": {"state": {}, "param_groups": [{"lr": 0.1, "params": [0]}]},
                "scheduler": {"last_epoch": 90}}, src)
    code, out, _ = run(capsys, "torch2ms", src, tmp_path / "o.ckpt", *model_args(RESNET), "-q")
    assert code == 0
    assert "took: 'state_dict' (model weights) from: official ResNet training checkpoint" in out
    assert "stripped the 'module.' prefix" in out
    assert "dropped wrapper entries (not weights of the model): epoch, arch, best_acc1, " \
           "optimizer, scheduler" in out
