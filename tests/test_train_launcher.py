"""scripts/run_distribute_train.sh: --help and bad input, each a clear message and exit 2, with no
run directory, checkpoint or process left behind."""
import os
import shutil
import subprocess

import pytest

from ms_acmix.train.config import CONFIG_DIR

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAUNCHER = os.path.join(REPO, "scripts", "run_distribute_train.sh")


def launch(*args, timeout=120):
    return subprocess.run(["bash", LAUNCHER, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)


def train_processes(marker):
    """pids of train.py processes whose command line mentions ``marker``."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().decode(errors="replace")
        except OSError:
            continue
        if "scripts/train.py" in cmd and marker in cmd:
            pids.append(int(pid))
    return pids


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """The bundled digits as an image folder (written by scripts/prepare_digits.py)."""
    out = tmp_path_factory.mktemp("data") / "digits"
    subprocess.run([os.path.join(REPO, ".venv", "bin", "python"),
                    "-m", "ms_acmix.cli.digits", "--out", str(out)],
                   check=True, capture_output=True)
    return out


def test_help_answers():
    res = launch("--help")
    assert res.returncode == 0
    for option in ("--config", "--model", "--data-dir", "--workers", "--device", "--output-dir",
                   "--resume"):
        assert option in res.stdout


def test_prepare_digits_split(digits):
    train = sum(len(files) for _, _, files in os.walk(digits / "train"))
    val = sum(len(files) for _, _, files in os.walk(digits / "val"))
    assert (train, val) == (1438, 359)
    assert sorted(os.listdir(digits / "train")) == [str(d) for d in range(10)]
    assert (digits / ".complete").exists()


def copy_of(digits, tmp_path):
    dst = tmp_path / "data"
    shutil.copytree(digits, dst)
    return dst


def misfit_weights(tmp_path):
    """Official-style weights of a wider ACmix-ResNet than the digits config builds."""
    import torch

    import torch_ref
    path = tmp_path / "misfit.pth"
    model = torch_ref.create_model("acmix_resnet26", layers=(1, 1, 1, 1), base_planes=8,
                                   k_att=3, head=4, in_chans=1, num_classes=10)
    torch.save({"state_dict": {"module." + k: v for k, v in model.state_dict().items()},
                "epoch": 1, "arch": "acmix", "best_acc1": 0.0}, path)
    return str(path)


def bad_cases(digits, tmp_path):
    """(name, launcher args, expected message regex) for each kind of bad input."""
    empty = tmp_path / "empty"
    empty.mkdir()
    no_images = copy_of(digits, tmp_path / "a")
    for f in (no_images / "train" / "3").iterdir():
        f.unlink()
    unreadable = copy_of(digits, tmp_path / "b")
    victim = sorted((unreadable / "val" / "7").iterdir())[0]
    victim.write_bytes(b"\x89PNG truncated")
    typo = tmp_path / "typo.yaml"
    typo.write_text(open(os.path.join(CONFIG_DIR, "acmix_digits.yaml")).read()
                    + "\ntrain:\n  epoch: 3\n")
    typo_section = tmp_path / "typo2.yaml"
    typo_section.write_text("optimiser:\n  lr: 0.1\n")
    return [
        ("missing data dir", ["--data-dir", str(tmp_path / "nope")],
         r"data directory .*nope.* does not exist"),
        ("empty data dir", ["--data-dir", str(empty)], r"data directory .*empty.* is empty"),
        ("class without images", ["--data-dir", str(no_images)],
         r"class folder .*train/3.* has no images"),
        ("unreadable image", ["--data-dir", str(unreadable)],
         rf"1 unreadable image.*{victim.name}"),
        ("config typo (--set)", ["--set", "train.epoch=3"],
         r"unknown key train\.epoch \(did you mean 'epochs'\?\)"),
        ("config typo (file)", ["--config", str(typo)], r"unknown key train\.epoch"),
        ("config typo (section)", ["--config", str(typo_section)],
         r"unknown section 'optimiser'.*'optimizer'"),
        ("too many workers", ["--workers", str((os.cpu_count() or 1) + 1)],
         r"--workers \d+ is more than the \d+ CPU cores"),
        ("bad worker count", ["--workers", "two"], r"--workers two: must be a positive integer"),
        ("unknown model", ["--model", "acmix_resnet99"], r"--model acmix_resnet99: no config"),
        ("unknown option", ["--epoch", "3"], r"unknown option '--epoch'"),
        ("batch too large", ["--batch-size", "4096"], r"fewer than one global batch"),
        ("bad resume", ["--resume", str(tmp_path / "nothing")],
         r"--resume .*nothing.*: no such file"),
        ("amp O1 on ACmix-ResNet", ["--set", "train.amp_level=O1"],
         r"amp_level=O1 does not work for acmix_resnet26"),
        ("nodes without master", ["--nodes", "2", "--node-rank", "1"],
         r"--nodes 2 needs --master-addr"),
        ("node rank too large", ["--nodes", "2", "--node-rank", "2", "--master-addr", "127.0.0.1"],
         r"--node-rank 2: must be an integer from 0 to 1"),
        ("node rank alone", ["--node-rank", "1"], r"--node-rank 1 needs --nodes > 1"),
        ("bad master port", ["--master-port", "80"], r"--master-port 80: must be a port number"),
        ("pretrained missing", ["--pretrained", str(tmp_path / "none.pth")],
         r"--pretrained=.*none\.pth.* does not exist"),
        ("pretrained misfit", ["--pretrained", misfit_weights(tmp_path)],
         r"--pretrained='.*misfit\.pth' does not fit acmix_resnet26: .*shape"),
    ]


def test_bad_input_fails_clearly(digits, tmp_path):
    failures = []
    for name, args, pattern in bad_cases(digits, tmp_path):
        out_dir = tmp_path / ("out-" + name.replace(" ", "_"))
        if "--data-dir" not in args and "--config" not in args:
            args = args + ["--data-dir", str(digits)]
        res = launch(*args, "--output-dir", str(out_dir))
        import re
        if res.returncode != 2 or not re.search(pattern, res.stderr):
            failures.append(f"{name}: exit {res.returncode}, stderr {res.stderr[-400:]!r}")
        if out_dir.exists():
            failures.append(f"{name}: left {out_dir} behind")
        if train_processes(str(out_dir)):
            failures.append(f"{name}: left train.py processes")
    assert not failures, "\n".join(failures)


def test_existing_run_needs_resume(digits, tmp_path):
    out = tmp_path / "run"
    (out / "checkpoints").mkdir(parents=True)
    for suffix in (".ckpt", "_state.ckpt", ".json"):
        (out / "checkpoints" / f"epoch_0001{suffix}").write_text("{}")
    res = launch("--data-dir", str(digits), "--output-dir", str(out))
    assert res.returncode == 2
    assert "already holds checkpoints: add --resume auto" in res.stderr
