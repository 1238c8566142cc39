"""acmix-benchmark runs end to end at a tiny size (one subprocess per case) and its ratios
mean what the table says; the module's multiply-adds against independent counts."""
import json
import subprocess
import sys

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

import torch_ref
from ms_acmix.cli import benchmark


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ms_acmix.cli.benchmark", *args],
                          capture_output=True, text=True, timeout=600, check=False)


def test_help_answers():
    proc = _run("--help")
    assert proc.returncode == 0 and "--module-shape" in proc.stdout and "--json" in proc.stdout
    assert "--device" in proc.stdout and "+ckpt" in proc.stdout


def test_quick_module_rows_as_json():
    proc = _run("--quick", "--json", "--only", "module,fwd+bwd", "--module-shape", "1,8,9,9",
                "--frameworks", "torch,ms-graph", "--repeats", "1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    rows = out["rows"]
    assert {(r["framework"], r["impl"]) for r in rows} == {
        (f, i) for f in ("torch", "ms-graph") for i in ("unfold", "fast", "plain")}
    by_key = {(r["framework"], r["impl"]): r for r in rows}
    official = by_key[("torch", "unfold")]
    assert official["vs_official_torch"] == 1.0
    assert out["macs"]["plain_conv"] == 1 * 9 * 9 * 8 * 8 * 9
    for r in rows:
        plain = by_key[(r["framework"], "plain")]
        assert r["time_s"] > 0 and r["peak_mib"] >= 0 and r["first_call_s"] > 0
        assert abs(r["vs_official_torch"] - r["time_s"] / official["time_s"]) < 1e-12
        assert abs(r["vs_plain"] - r["time_s"] / plain["time_s"]) < 1e-12  # the 3x3 conv
        macs = out["macs"]["plain_conv"] if r["impl"] == "plain" else \
            out["macs"]["module"]["total"]
        assert r["macs"] == macs
        assert abs(r["ns_per_mac"] - r["time_s"] / macs * 1e9) < 1e-9 * r["ns_per_mac"]
        assert abs(r["per_mac_vs_plain"] - r["ns_per_mac"] / plain["ns_per_mac"]) < 1e-12
        assert r["mem_vs_no_ckpt"] is None  # a module has no checkpointing


def test_checkpointing_rows_and_their_ratio():
    proc = _run("--quick", "--json", "--only", "resnet50,fast,fwd+bwd", "--frameworks", "torch",
                "--repeats", "1", "--malloc-mmap-threshold", "131072")
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    rows = {r["impl"]: r for r in out["rows"]}
    assert set(rows) == {"fast", "fast+ckpt"} and out["malloc_mmap_threshold"] == 131072
    on, off = rows["fast+ckpt"], rows["fast"]
    assert on["mem_vs_no_ckpt"] == on["peak_mib"] / off["peak_mib"]
    assert on["time_vs_no_ckpt"] == on["time_s"] / off["time_s"]
    assert off["mem_vs_no_ckpt"] is None
    lines = benchmark.table(out["rows"]).splitlines()
    ckpt = lines[lines.index("Gradient checkpointing (forward+backward), on over off:") + 4]
    assert ckpt.split(" | ")[5] == f"{on['mem_vs_no_ckpt']:.2f}"


def test_checkpointing_only_in_training_and_skips_named():
    args = benchmark.parse_args(["--frameworks", "torch,ms-pynative,ms-graph"])
    cases = benchmark.cases(args)
    labels = {(c["framework"], c["model"], c["impl"], c["pass"]) for c in cases}
    assert not any(impl.endswith("+ckpt") and p == "fwd" for _, _, impl, p in labels)
    assert ("ms-graph", "swin_t", "acmix+ckpt", "fwd+bwd") in labels
    assert ("ms-pynative", "resnet50", "fast+ckpt", "fwd+bwd") in labels
    assert not any(f == "ms-pynative" and impl == "acmix+ckpt" for f, _, impl, _ in labels)
    assert {c["device"] for c in cases} == {"cpu"}
    assert {c["device"] for c in benchmark.cases(benchmark.parse_args(
        ["--device", "cuda"]))} == {"cuda"}
    with pytest.raises(SystemExit):
        benchmark.parse_args(["--device", "tpu"])
    assert list(benchmark.skipped_cases(args)) == ["ms-pynative swin_t acmix+ckpt"]
    for argv in (["--only", "resnet50"], ["--frameworks", "torch,ms-graph"]):
        assert benchmark.skipped_cases(benchmark.parse_args(argv)) == {}


class _Products(TorchDispatchMode):
    """Elements of every 5-D product: the official formulation's attention core."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func is torch.ops.aten.mul.Tensor and out.ndim == 5:
            self.count += out.numel()
        return out


@pytest.mark.parametrize("shape,k_att,head,k_conv", [((2, 8, 9, 7), 3, 2, 3),
                                                     ((1, 16, 12, 12), 7, 4, 3),
                                                     ((2, 12, 6, 10), 5, 3, 1)])
def test_module_multiply_adds_against_independent_counts(shape, k_att, head, k_conv):
    parts = benchmark.acmix_macs(shape, k_att, head, k_conv)
    model = torch_ref.ACmix(shape[1], shape[1], k_att, head, k_conv, attn_impl="unfold")
    x = torch.randn(shape)
    with FlopCounterMode(display=False) as flops, _Products() as products:
        model(x)
    # torch counts 2 FLOPs per multiply-add of every conv: projections, position conv, fc,
    # dep_conv; the attention core is elementwise products (q * k_j, then att_j * v_j)
    convs = parts["total"] - parts["attention core"]
    assert flops.get_total_flops() == 2 * convs
    assert products.count == parts["attention core"]
    with FlopCounterMode(display=False) as plain:
        torch.nn.Conv2d(shape[1], shape[1], 3, padding=1)(x)
    assert plain.get_total_flops() == 2 * benchmark.conv3x3_macs(shape)
