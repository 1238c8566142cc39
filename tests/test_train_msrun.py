"""Real msrun runs of scripts/run_distribute_train.sh with 2 CPU workers.

Default: a short smoke run (outputs, checkpoints, eval.py, export.py). Marked slow (run with
--run-slow or ACMIX_SLOW=1): a short kill -9 of a worker followed by --resume, the full default
command to >= 95 % in <= 10 minutes, and kill -9 + resume of that full run.
"""
import csv
import json
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from tests.test_train_launcher import LAUNCHER, REPO, digits, train_processes  # noqa: F401

PYTHON = os.path.join(REPO, ".venv", "bin", "python")
SHORT = ["--epochs", "3", "--set", "train.max_steps_per_epoch=10", "--set", "train.log_interval=2"]
needs_two_cores = pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="2 CPU workers")


def launch(*args, timeout=600):
    return subprocess.run(["bash", LAUNCHER, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)


def read_metrics(run_dir):
    with open(os.path.join(run_dir, "metrics.csv")) as f:
        return list(csv.DictReader(f))


def worker_pid(run_dir, rank, timeout=120):
    """pid of the msrun worker with RANK_ID=rank of this run (from the launcher's pid files)."""
    pid_dir = os.path.join(run_dir, "msrun_logs", "pids")
    deadline = time.time() + timeout
    while time.time() < deadline:
        for name in os.listdir(pid_dir) if os.path.isdir(pid_dir) else []:
            try:
                with open(f"/proc/{name}/environ", "rb") as f:
                    env = f.read().decode(errors="replace").split("\0")
            except OSError:
                continue
            if f"RANK_ID={rank}" in env and "MS_ROLE=MS_WORKER" in env:
                return int(name)
        time.sleep(0.5)
    raise AssertionError(f"no rank {rank} worker found in {pid_dir}")


def wait_for(path, proc, timeout):
    deadline = time.time() + timeout
    while not os.path.exists(path):
        assert proc.poll() is None, f"launcher exited early:\n{proc.stdout.read()[-2000:]}"
        assert time.time() < deadline, f"timed out waiting for {path}"
        time.sleep(0.5)


def kill_worker_and_resume(run_dir, args, kill_after_epoch, timeout):
    """Start a run, kill -9 rank 1 during epoch kill_after_epoch + 1, resume; return both logs."""
    proc = subprocess.Popen(["bash", LAUNCHER, *args, "--output-dir", run_dir], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(os.path.join(run_dir, "checkpoints", f"epoch_{kill_after_epoch:04d}.json"), proc,
                 timeout)
        time.sleep(2)  # into the next epoch
        os.kill(worker_pid(run_dir, 1), signal.SIGKILL)
        first, _ = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0, "the killed run must fail"
    assert "training failed" in first
    time.sleep(1)
    assert not train_processes(run_dir), "workers survived the failed run"
    ckpt_dir = os.path.join(run_dir, "checkpoints")
    assert not [f for f in os.listdir(ckpt_dir) if f.startswith(".tmp-")]
    second = launch(*args, "--resume", run_dir, timeout=timeout)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    return first, second.stdout


@pytest.fixture(scope="module")
def short_run(digits, tmp_path_factory):  # noqa: F811
    """An uninterrupted 3-epoch, 10-steps-per-epoch run: (run dir, launcher stdout)."""
    run_dir = str(tmp_path_factory.mktemp("short") / "run")
    res = launch("--data-dir", str(digits), "--output-dir", run_dir, *SHORT)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return run_dir, res.stdout


@needs_two_cores
def test_msrun_smoke_run_outputs_eval_export(short_run, digits, tmp_path):  # noqa: F811
    run_dir, out = short_run
    assert "2 worker(s) on CPU, graph mode" in out
    assert re.search(r"epoch 1/3 step 2/10 \| loss [0-9.]+ \| lr [0-9.e-]+ \| [0-9.]+ img/s \| "
                     r"[0-9.]+% done", out)
    assert re.search(r"epoch 3/3 done .* val top-1 [0-9.]+% top-5 [0-9.]+% \(359 images\)", out)
    assert not train_processes(run_dir)

    rows = read_metrics(run_dir)
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    with open(os.path.join(run_dir, "metrics.json")) as f:
        assert len(json.load(f)) == 3
    with open(os.path.join(run_dir, "curves.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    ckpts = sorted(os.listdir(os.path.join(run_dir, "checkpoints")))
    assert {"epoch_0001.ckpt", "epoch_0003.ckpt", "epoch_0003_state.ckpt", "epoch_0003.json",
            "best.ckpt", "best.json"} <= set(ckpts)

    last = os.path.join(run_dir, "checkpoints", "epoch_0003.ckpt")
    ev = subprocess.run([PYTHON, "-m", "ms_acmix.cli.evaluate", "--ckpt", last,
                         "--data-dir", str(digits / "val")], capture_output=True, text=True,
                        timeout=300)
    assert ev.returncode == 0, ev.stderr[-2000:]
    result = json.loads(ev.stdout.strip().splitlines()[-1])
    assert result["count"] == 359
    # one process over the whole folder == two ranks' all-reduced shards (same averaged
    # BatchNorm statistics); other batch splits may flip a near-tie: at most one image
    one_image = 100.0 / 359 + 1e-6
    assert result["top1"] == pytest.approx(float(rows[-1]["val_top1"]), abs=one_image)
    assert result["top5"] == pytest.approx(float(rows[-1]["val_top5"]), abs=one_image)

    # the checkpoint contract: ms2torch takes it as it is
    from ms_acmix.train.config import load
    from ms_acmix.train.models import model_kwargs
    kwargs = model_kwargs(load(os.path.join(run_dir, "config.yaml")), 10)
    cv = subprocess.run([PYTHON, "-m", "ms_acmix.cli.convert", "ms2torch", last,
                         str(tmp_path / "model.pth"), "--model", "acmix_resnet26",
                         "--model-kwargs", json.dumps(kwargs), "--verify"],
                        capture_output=True, text=True, timeout=300)
    assert cv.returncode == 0, cv.stderr[-2000:]

    mindir = tmp_path / "model.mindir"
    ex = subprocess.run([PYTHON, "-m", "ms_acmix.cli.export", "--ckpt", last,
                         "--out", str(mindir)], capture_output=True, text=True, timeout=300)
    assert ex.returncode == 0, ex.stderr[-2000:]
    assert mindir.stat().st_size > 0 and "reloaded logits match" in ex.stdout


@pytest.mark.slow  # ~100 s alone; tests/test_train_optim_ckpt.py resumes in-process by default
@needs_two_cores
def test_kill9_worker_then_resume_matches_uninterrupted(short_run, digits, tmp_path):  # noqa: F811
    run_dir = str(tmp_path / "run")
    _, second = kill_worker_and_resume(run_dir, ["--data-dir", str(digits), *SHORT],
                                       kill_after_epoch=1, timeout=300)
    match = re.search(r"resumed from .* epoch (\d+): global step (\d+)", second)
    assert match and int(match.group(1)) >= 1 and int(match.group(2)) == 10 * int(match.group(1))
    rows, want = read_metrics(run_dir), read_metrics(short_run[0])
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert [int(r["global_step"]) for r in rows] == [10, 20, 30]
    # model, optimiser, schedule and data order restored: the same numbers as never stopping
    for got, ref in zip(rows, want):
        for key in ("train_loss", "val_top1", "val_top5", "val_loss", "lr"):
            assert float(got[key]) == pytest.approx(float(ref[key]), rel=1e-4, abs=1e-6), key


@pytest.mark.slow
@needs_two_cores
def test_default_command_reaches_95_in_10_minutes():
    start = time.time()
    res = launch(timeout=900)
    elapsed = time.time() - start
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    run_dir = re.search(r"run directory: (\S+)", res.stdout).group(1)
    final = float(read_metrics(run_dir)[-1]["val_top1"])
    print(f"default run: {elapsed:.0f} s, final val top-1 {final:.2f}%")
    assert final >= 95.0 and elapsed <= 600
    shutil.rmtree(run_dir)  # the default run writes under outputs/ of the checkout


@pytest.mark.slow
@needs_two_cores
def test_default_run_kill9_and_resume_same_band(tmp_path):
    run_dir = str(tmp_path / "run")
    first, second = kill_worker_and_resume(run_dir, [], kill_after_epoch=5, timeout=900)
    assert "resumed from" in second and "epoch 5:" in second
    rows = read_metrics(run_dir)
    assert [int(r["epoch"]) for r in rows] == list(range(1, len(rows) + 1))
    assert float(rows[-1]["val_top1"]) >= 95.0
