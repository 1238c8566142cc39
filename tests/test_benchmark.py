"""acmix-benchmark runs end to end at a tiny size (one subprocess per case) and its ratios
mean what the table says."""
import json
import subprocess
import sys

def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ms_acmix.cli.benchmark", *args],
                          capture_output=True, text=True, timeout=300, check=False)


def test_help_answers():
    proc = _run("--help")
    assert proc.returncode == 0 and "--module-shape" in proc.stdout and "--json" in proc.stdout


def test_quick_module_rows_as_json():
    proc = _run("--quick", "--json", "--only", "module,fwd+bwd", "--module-shape", "1,8,9,9",
                "--frameworks", "torch,ms-graph", "--repeats", "1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = json.loads(proc.stdout)["rows"]
    assert {(r["framework"], r["impl"]) for r in rows} == {
        (f, i) for f in ("torch", "ms-graph") for i in ("unfold", "fast")}
    by_key = {(r["framework"], r["impl"]): r for r in rows}
    official = by_key[("torch", "unfold")]
    assert official["vs_official_torch"] == 1.0
    for r in rows:
        assert r["time_s"] > 0 and r["peak_mib"] >= 0 and r["first_call_s"] > 0
        assert abs(r["vs_official_torch"] - r["time_s"] / official["time_s"]) < 1e-12
        assert r["vs_plain"] is None  # the module has no plain backbone
