"""acmix-eval: bad input exits with code 2 and one line naming the argument and its value,
before MindSpore is loaded. (Evaluating official-format weights end to end:
parity/test_e2e_eval.py; a training run's checkpoint: tests/test_train_msrun.py.)"""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(*args):
    return subprocess.run([sys.executable, "-m", "ms_acmix.cli.evaluate", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)


def test_help_answers():
    proc = _run("--help")
    assert proc.returncode == 0
    for flag in ("--model", "--checkpoint", "--ckpt", "--data-dir", "--predictions"):
        assert flag in proc.stdout


@pytest.mark.parametrize("args,message", [
    (["--model", "acmix_swin_tiny", "--checkpoint", "missing.pth", "--data-dir", "."],
     "--checkpoint='missing.pth' does not exist"),
    (["--model", "swin_t", "--checkpoint", "README.md", "--data-dir", "."],
     "--model='swin_t' is not a registered model"),
    (["--checkpoint", "README.md", "--data-dir", "."], "--model is required with --checkpoint"),
    (["--model", "acmix_swin_tiny", "--checkpoint", "README.md", "--data-dir", "nope"],
     "--data-dir='nope' is not a directory"),
    (["--model", "acmix_swin_tiny", "--checkpoint", "README.md", "--data-dir", ".",
      "--model-kwargs", "{img_size: 64}"], "--model-kwargs='{img_size: 64}' is not JSON"),
    (["--model", "acmix_swin_tiny", "--checkpoint", "README.md", "--data-dir", ".",
      "--batch-size", "-1"], "--batch-size=-1 must be >= 0"),
    (["--data-dir", "."], "one of the arguments --checkpoint --ckpt is required"),
])
def test_bad_arguments_exit_2_with_one_line(args, message):
    proc = _run(*args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
