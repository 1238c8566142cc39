"""scripts/device_check.sh: without a GPU it says so in one line, writes nothing and exits 2; its
--help answers; and its whole flow (every part, the report) runs on the CPU (--cpu-dry-run)."""
import os
import re
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "scripts", "device_check.sh")


def _run(*args, path=None, python=None, timeout=120):
    env = dict(os.environ)
    if path is not None:
        env["PATH"] = path
    if python is not None:
        env["PYTHON"] = python
    return subprocess.run(["bash", SCRIPT, *args], capture_output=True, text=True, env=env,
                          timeout=timeout, check=False, cwd=ROOT)


def _no_smi_path() -> str:
    """This machine's PATH, which must not find nvidia-smi (CI machines have no GPU)."""
    if shutil.which("nvidia-smi"):
        pytest.skip("this machine has nvidia-smi")
    return os.environ["PATH"]


def _listing():
    out = os.path.join(ROOT, "outputs")
    return sorted(os.listdir(out)) if os.path.isdir(out) else []


def test_without_a_gpu_one_line_exit_2_nothing_written(tmp_path):
    before = _listing()
    report = tmp_path / "report.md"
    for args in ((), ("--output", str(report))):
        proc = _run(*args, path=_no_smi_path())
        assert proc.returncode == 2, proc.stderr
        assert proc.stdout.splitlines() == [
            "device_check: no NVIDIA GPU here (nvidia-smi not found): nothing run, "
            "nothing written"]
    assert not report.exists() and _listing() == before


def test_nvidia_smi_without_cuda_is_no_gpu_either(tmp_path):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "nvidia-smi").write_text("#!/bin/sh\necho 'NVIDIA-SMI has failed'\nexit 9\n")
    (fake / "nvidia-smi").chmod(0o755)
    proc = _run(path=f"{fake}{os.pathsep}{os.environ['PATH']}", python=sys.executable)
    assert proc.returncode == 2
    assert proc.stdout.splitlines() == [
        "device_check: no NVIDIA GPU here (torch.cuda.is_available() is False): nothing run, "
        "nothing written"]


def test_help_answers():
    proc = _run("--help")
    assert proc.returncode == 0 and "--budget" in proc.stdout and "--output" in proc.stdout


def test_cpu_dry_run_writes_every_section_without_mindspore_or_pyyaml(tmp_path):
    """The flow of a GPU run, on the CPU, where MindSpore and PyYAML do not import (as on the
    lent GPU machine): parts 1-3 need neither, part 4 says why it did not run."""
    blocked = tmp_path / "blocked"
    (blocked / "mindspore").mkdir(parents=True)
    (blocked / "mindspore" / "__init__.py").write_text("raise ImportError('blocked here')\n")
    (blocked / "yaml.py").write_text("raise ImportError('blocked here')\n")
    report = tmp_path / "r.md"
    env = dict(os.environ, PYTHON=sys.executable, PYTHONPATH=str(blocked))
    proc = subprocess.run(["bash", SCRIPT, "--cpu-dry-run", "--output", str(report),
                           "--repeats", "1", "--warmup", "0"], capture_output=True, text=True,
                          env=env, timeout=900, check=False, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.splitlines()[-1] == f"device_check: report {report}"
    text = report.read_text()
    for title in ("## Machine", "## Exactness on the device", "## PyTorch benchmark",
                  "## MindSpore on the GPU"):
        assert title in text
    assert "CPU DRY RUN" in text
    assert re.search(r"^- fast attention backend: (cpu-kernel|torch) \(float32 on cpu\)$", text,
                     re.M), text
    exact = [ln for ln in text.splitlines() if ln.startswith("| ACmix")]
    assert len(exact) == 3 and all(ln.endswith("| pass |") for ln in exact)
    rows = [ln for ln in text.splitlines() if ln.startswith("| PyTorch | ")]
    assert {ln.split(" | ")[1] for ln in rows} >= {"unfold", "fast", "plain"}
    assert "Not run: MindSpore does not import: ImportError: blocked here." in text
    assert not os.path.exists(str(report) + ".tmp")


def test_mindspore_gpu_libraries_are_reported():
    """This machine's MindSpore wheel has both GPU plugins and no CUDA 11 libraries."""
    import importlib.util

    from ms_acmix.cli import device_check
    ms_dir = os.path.dirname(importlib.util.find_spec("mindspore").origin)
    lines = device_check.mindspore_gpu_libraries(ms_dir)
    plugins = {v: ln for v in ("11.1", "11.6") for ln in lines
               if ln.startswith(f"- plugin CUDA {v} links ")}
    assert set(plugins) == {"11.1", "11.6"}
    for version, line in plugins.items():
        for lib in device_check.MS_GPU_LIBS[version]:  # readelf finds the documented ones
            assert lib in line.split(": ")[0]
    missing = plugins["11.6"].split(": missing ")[1].split(", ")
    assert "libcudart.so.11.0" in missing and "libcudnn.so.8" in missing


def test_exactness_judgment_catches_a_difference_and_only_cancelled_gradients_get_context():
    """The device's fast-vs-unfold verdict: a gradient off by 1e-3 relative fails (10x its
    bound), the position conv's bias (zero in float64 by cancellation) is judged at the largest
    gradient, and only it: a small but real gradient keeps its own scale."""
    import numpy as np

    from ms_acmix.cli import device_check
    rng = np.random.default_rng(0)
    ref = {"output": rng.standard_normal((2, 3)), "w": rng.standard_normal(5) * 10,
           "small": rng.standard_normal(4) * 1e-3, "conv_p.bias": np.full(2, 1e-16)}
    unfold = {k: v.astype(np.float32).astype(np.float64) for k, v in ref.items()}
    unfold["conv_p.bias"] = np.array([3e-7, -2e-7])  # float32 roundoff of gradient-sized terms
    assert device_check._cancelled(ref)[1] == {"conv_p.bias"}
    assert device_check._compare(dict(unfold), unfold, ref)[3] == "pass"
    for name, factor in (("w", 1 + 1e-3), ("small", 1 + 1e-3), ("output", 1 + 1e-4)):
        bad = dict(unfold, **{name: unfold[name] * factor})
        verdict = device_check._compare(bad, unfold, ref)
        assert verdict[3] == "FAIL" and max(verdict[0], verdict[2]) > 5, (name, verdict)
    context = float(np.abs(ref["w"]).max())
    bad = dict(unfold, **{"conv_p.bias": unfold["conv_p.bias"] + 1e-3 * context})
    _, worst, ratio, verdict = device_check._compare(bad, unfold, ref)
    assert worst == "conv_p.bias" and verdict == "FAIL" and ratio > 5
