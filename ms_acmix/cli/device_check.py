"""One command for the first GPU machine (``bash scripts/device_check.sh``): it runs what the
machine has, reports the rest, and writes one Markdown report (its path is printed).

Parts, each with a time budget (what does not fit is cut and the report says so):

1. the machine: GPU, driver, Python, PyTorch, CUDA, cuDNN, Triton, and which backend
   torch_ref's fast attention takes there;
2. exactness on CUDA, TF32 off: torch_ref's ``attn_impl="fast"`` against the official
   formulation ``"unfold"``, outputs and gradients (input and every parameter), at module
   shapes with stride 1 and 2 and on a narrow ACmix-ResNet-50, under the float32 policy of
   ``acmix_common.tolerance`` (and each against float64 for the record);
3. PyTorch on CUDA: acmix-benchmark's module and ACmix-ResNet-50 rows (unfold, fast,
   fast+ckpt, plain; forward and forward+backward; peak memory from
   ``torch.cuda.max_memory_allocated``), run through ``ms_acmix/cli/benchmark.py``;
4. MindSpore on GPU, if a MindSpore that sees the GPU is importable: the libraries its GPU
   plugin links, ``pytest parity/ --parity-device GPU`` (ci profile) and the MindSpore GPU
   benchmark rows; otherwise one line saying why not.

It needs no MindSpore, PyYAML or virtual environment for parts 1-3: run by path with the
repository on PYTHONPATH, it imports torch, numpy, torch_ref and acmix_common only. Without a
GPU (no ``nvidia-smi``, or ``torch.cuda.is_available()`` false) it prints one line, writes
nothing and exits 2. ``--cpu-dry-run`` runs every part on the CPU at tiny sizes, to test this
script where no GPU is lent.
"""
import argparse
import datetime
import importlib.util
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from typing import Dict, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
if __name__ == "__main__" and sys.path and sys.path[0] == HERE:
    sys.path.pop(0)  # run by path: the sibling commands (train.py, ...) must not shadow modules
ROOT = os.path.dirname(os.path.dirname(HERE))
BENCHMARK = os.path.join(HERE, "benchmark.py")
EXIT_NO_GPU = 2

# The non-MindSpore libraries that mindspore==2.10.0's GPU plugins link (readelf -d on
# lib/plugin/libmindspore_gpu.so.11.1 and .so.11.6, and their gpu*/ neighbours); read again from
# the installed wheel when readelf is there. The two plugins differ only in NVRTC.
MS_GPU_LIBS = {
    "11.1": ("libcudart.so.11.0", "libcublas.so.11", "libcudnn.so.8", "libcufft.so.10",
             "libcurand.so.10", "libcusolver.so.11", "libcusparse.so.11", "libnvrtc.so.11.1",
             "libcuda.so.1", "libgomp.so.1"),
    "11.6": ("libcudart.so.11.0", "libcublas.so.11", "libcudnn.so.8", "libcufft.so.10",
             "libcurand.so.10", "libcusolver.so.11", "libcusparse.so.11", "libnvrtc.so.11.2",
             "libcuda.so.1", "libgomp.so.1"),
}
SYSTEM_LIBS = ("libc.so", "libm.so", "libdl.so", "libpthread.so", "librt.so", "libstdc++.so",
               "libgcc_s.so", "ld-linux")

# (N, C, H, W, k_att, head, k_conv, stride, dilation): the benchmark's shape, odd sizes at
# stride 2, a dilated window, and a ResNet stage's first (strided) block.
EXACTNESS_SHAPES = [(2, 16, 14, 14, 7, 4, 3, 1, 1), (2, 16, 15, 13, 7, 4, 3, 2, 1),
                    (2, 32, 20, 20, 5, 2, 3, 1, 2), (4, 128, 28, 28, 7, 4, 3, 2, 1),
                    (8, 64, 56, 56, 7, 4, 3, 1, 1)]
# A float64 gradient under this fraction of the largest one is zero by cancellation.
CANCELLED = 1e-12
DRY_SHAPES = [(1, 8, 9, 9, 3, 2, 3, 1, 1), (1, 8, 9, 7, 3, 2, 3, 2, 1)]


def no_gpu_reason(python: str = sys.executable) -> Optional[str]:
    """None when an NVIDIA GPU is usable from PyTorch here, else why not (one line)."""
    if shutil.which("nvidia-smi") is None:
        return "nvidia-smi not found"
    probe = subprocess.run([python, "-c", "import torch; print(torch.cuda.is_available())"],
                           capture_output=True, text=True, timeout=120, check=False)
    if probe.returncode:
        last = (probe.stderr.strip().splitlines() or ["?"])[-1]
        return f"PyTorch does not import in {python}: {last}"
    if probe.stdout.strip() != "True":
        return "torch.cuda.is_available() is False"
    return None


# ---- parts run in a subprocess (--part NAME prints one JSON object) ---------------------------

def _backend(device: str) -> str:
    """The path torch_ref's fast attention takes for float32 queries on ``device``."""
    import torch
    from torch_ref.models.local_attention import backend
    return f"{backend(torch.empty(0, device=device))} (float32 on {device})"


def part_environment(device: str) -> Dict:
    import torch
    info = {"python": f"{platform.python_version()} ({sys.executable})",
            "torch": torch.__version__, "torch CUDA": str(torch.version.cuda),
            "cuDNN": str(torch.backends.cudnn.version()),
            "fast attention backend": _backend(device)}
    try:
        import triton
        info["triton"] = triton.__version__
    except ImportError:
        info["triton"] = "not importable"
    if device == "cuda":
        props = torch.cuda.get_device_properties(0)
        info["GPU (torch)"] = (f"{props.name}, {props.total_memory / 2 ** 30:.0f} GiB, "
                               f"compute capability {props.major}.{props.minor}")
    return info


def _pair(kwargs: dict, device, dtype, seed: int):
    """(fast, unfold) ACmix modules with the same weights."""
    import torch
    import torch_ref
    torch.manual_seed(seed)
    fast = torch_ref.ACmix(**kwargs, attn_impl="fast")
    unfold = torch_ref.ACmix(**kwargs, attn_impl="unfold")
    unfold.load_state_dict(fast.state_dict())
    return fast.to(device, dtype), unfold.to(device, dtype)


def _run(model, x, cotangent) -> Dict:
    """Output and gradients of sum(out * cotangent) (input and every parameter), as numpy."""
    inp = x.clone().requires_grad_(True)
    model.zero_grad(set_to_none=True)
    out = model(inp)
    (out * cotangent).sum().backward()
    result = {"output": out.detach().double().cpu().numpy(),
              "input": inp.grad.double().cpu().numpy()}
    result.update({n: p.grad.double().cpu().numpy() for n, p in model.named_parameters()})
    return result


def _cancelled(ref64: Dict) -> Tuple[float, set]:
    """(the largest float64 gradient, the gradients that are zero by cancellation): those the
    float64 reference holds under CANCELLED times the largest (the position conv's bias:
    pe_q - pe_j removes it, so what is left is the roundoff of a sum of gradient-sized terms)."""
    import numpy as np
    largest = {k: float(np.abs(v).max()) for k, v in ref64.items() if k != "output"}
    context = max(largest.values())
    return context, {k for k, v in largest.items() if v <= CANCELLED * context}


def _compare(a: Dict, b: Dict, ref64: Dict) -> Tuple[float, str, float, str]:
    """(output error / bound, worst gradient name, its error / bound, verdict) of ``a`` against
    ``b`` under the float32 policy (acmix_common.tolerance): atol + rtol * max|b|, except that a
    gradient zero by cancellation is judged at the largest gradient, as
    tests/test_local_attention.py does."""
    from acmix_common.tolerance import POLICY, compare, measure
    out = compare(a["output"], b["output"], "float32", "forward")
    context, cancelled = _cancelled(ref64)
    tol = POLICY[("float32", "grad")]
    grads = {k: measure(a[k], b[k], tol.atol + tol.rtol * context) if k in cancelled
             else compare(a[k], b[k], "float32", "grad") for k in a if k != "output"}
    worst = max(grads, key=lambda k: grads[k].ratio)
    ok = out.ok and all(g.ok for g in grads.values())
    return out.ratio, worst, grads[worst].ratio, "pass" if ok else "FAIL"


def _rel64(a: Dict, ref64: Dict) -> float:
    """Largest error against float64 over all results, each over its largest float64 value (a
    gradient zero by cancellation: over the largest gradient)."""
    import numpy as np
    context, cancelled = _cancelled(ref64)
    return max(float(np.abs(a[k] - v).max()
                     / (context if k in cancelled else max(float(np.abs(v).max()), 1e-300)))
               for k, v in ref64.items())


def part_exactness(device: str, dry: bool) -> Dict:
    """torch_ref fast against unfold on ``device`` (TF32 off), modules and a narrow
    ACmix-ResNet-50."""
    import copy

    import torch
    import torch_ref
    from torch_ref.models.testing import draw_weights_
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    rows = []
    for i, (n, c, h, w, k_att, head, k_conv, stride, dil) in enumerate(
            DRY_SHAPES if dry else EXACTNESS_SHAPES):
        kwargs = dict(in_planes=c, out_planes=c, k_att=k_att, head=head, k_conv=k_conv,
                      stride=stride, dilation=dil)
        gen = torch.Generator().manual_seed(i)
        x = torch.randn(n, c, h, w, generator=gen)
        fast, unfold = _pair(kwargs, device, torch.float32, seed=i)
        with torch.no_grad():
            shape = unfold(x.to(device)).shape
        cot = torch.randn(shape, generator=gen)
        res_f = _run(fast, x.to(device), cot.to(device))
        res_u = _run(unfold, x.to(device), cot.to(device))
        ref = _run(copy.deepcopy(unfold).double(), x.to(device, torch.float64),
                   cot.to(device, torch.float64))
        rows.append(dict(case=f"ACmix {(n, c, h, w)} k_att {k_att} head {head} stride "
                         f"{stride} dilation {dil}",
                         **dict(zip(("output", "worst_grad", "grad", "verdict"),
                                    _compare(res_f, res_u, ref))),
                         fast_vs_f64=_rel64(res_f, ref), unfold_vs_f64=_rel64(res_u, ref)))
    kwargs = dict(base_planes=8, num_classes=10, **(dict(layers=(1, 1, 1, 1)) if dry else {}))
    size = 128  # stage 4 at 4 x 4 px: k_att 7's reflection pad (3) fits
    models = {}
    for impl in ("fast", "unfold"):
        torch.manual_seed(0)
        models[impl] = torch_ref.create_model("acmix_resnet50", **kwargs, attn_impl=impl)
    draw_weights_(models["fast"], seed=0)
    models["unfold"].load_state_dict(models["fast"].state_dict())
    gen = torch.Generator().manual_seed(99)
    x = torch.randn(2, 3, size, size, generator=gen)
    cot = torch.randn(2, 10, generator=gen)
    res = {impl: _run(m.to(device).eval(), x.to(device), cot.to(device))
           for impl, m in models.items()}
    ref = _run(copy.deepcopy(models["unfold"]).double(), x.to(device, torch.float64),
               cot.to(device, torch.float64))
    rows.append(dict(case=f"ACmix-ResNet-50 narrow {kwargs}, eval, (2, 3, {size}, {size})",
                     **dict(zip(("output", "worst_grad", "grad", "verdict"),
                                _compare(res["fast"], res["unfold"], ref))),
                     fast_vs_f64=_rel64(res["fast"], ref),
                     unfold_vs_f64=_rel64(res["unfold"], ref)))
    return {"rows": rows}


PARTS = {"environment": lambda a: part_environment(a.device),
         "exactness": lambda a: part_exactness(a.device, a.dry)}


# ---- MindSpore ---------------------------------------------------------------------------------

def _library_dirs(extra: List[str]) -> List[str]:
    dirs = [d for d in os.environ.get("LD_LIBRARY_PATH", "").split(":") if d] + extra
    return [d for d in dirs if os.path.isdir(d)]


def _ldconfig_cache() -> Dict[str, str]:
    ldconfig = shutil.which("ldconfig") or "/sbin/ldconfig"
    try:
        out = subprocess.run([ldconfig, "-p"], capture_output=True, text=True, timeout=30,
                             check=False).stdout
    except OSError:
        return {}
    found = {}
    for line in out.splitlines():
        m = re.match(r"\s*(\S+) \(.*\) => (\S+)", line)
        if m:
            found.setdefault(m.group(1), m.group(2))
    return found


def _needed(path: str) -> Optional[List[str]]:
    if shutil.which("readelf") is None:
        return None
    out = subprocess.run(["readelf", "-d", path], capture_output=True, text=True, timeout=30,
                         check=False).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[(\S+)\]", out)


def mindspore_gpu_libraries(ms_dir: str) -> List[str]:
    """Report lines: for each GPU plugin of the installed MindSpore, the CUDA, cuDNN and other
    libraries it links and where each is found (its RPATH, LD_LIBRARY_PATH, the ldconfig
    cache), and CUDA_HOME."""
    plugin = os.path.join(ms_dir, "lib", "plugin")
    cache = _ldconfig_cache()
    lines = []
    home = os.environ.get("CUDA_HOME")
    lines.append(f"- CUDA_HOME: {home or 'not set'}"
                 + ("" if not home or os.path.isdir(home) else " (not a directory)"))
    for version, documented in MS_GPU_LIBS.items():
        path = os.path.join(plugin, f"libmindspore_gpu.so.{version}")
        if not os.path.exists(path):
            lines.append(f"- plugin CUDA {version}: {path} absent")
            continue
        needed = _needed(path)
        if needed is not None:
            needed += [lib for sub in ("gpu", f"gpu{version}") if os.path.isdir(
                os.path.join(plugin, sub)) for f in os.listdir(os.path.join(plugin, sub))
                for lib in (_needed(os.path.join(plugin, sub, f)) or [])]
            needed = sorted({lib for lib in needed if "mindspore" not in lib and lib not in
                             ("libnccl.so.2", "libcuda_ops.so.11")
                             and not lib.startswith(SYSTEM_LIBS)})
        libs = needed if needed is not None else list(documented)
        dirs = _library_dirs([plugin, os.path.join(plugin, "gpu"),
                              os.path.join(plugin, f"gpu{version}"), "/usr/local/cuda/lib64"]
                             + ([os.path.join(home, "lib64")] if home else []))
        missing = []
        for lib in libs:
            if lib not in cache and not any(os.path.exists(os.path.join(d, lib)) for d in dirs):
                missing.append(lib)
        lines.append(f"- plugin CUDA {version} links {', '.join(libs)}: "
                     + (f"missing {', '.join(missing)}" if missing else "all found"))
    return lines


def mindspore_probe(python: str, timeout: float) -> Tuple[Optional[str], List[str]]:
    """(None if MindSpore sees a GPU else why not, report lines about its GPU libraries)."""
    spec = importlib.util.find_spec("mindspore")
    if spec is None or not spec.origin:
        return (f"MindSpore is not importable by {python} (Python {platform.python_version()}):"
                " the parity harness on GPU and the MindSpore GPU rows were not run", [])
    lines = mindspore_gpu_libraries(os.path.dirname(spec.origin))
    code = ("import mindspore as ms; g = ms.device_context.gpu; "
            "print(ms.__version__, g.is_available(), g.device_count() if g.is_available() "
            "else 0)")
    try:
        probe = subprocess.run([python, "-c", code], capture_output=True, text=True,
                               timeout=timeout, check=False, env=dict(os.environ, GLOG_v="3"))
    except subprocess.TimeoutExpired:
        return f"importing MindSpore took over {timeout:.0f} s", lines
    words = (probe.stdout.strip().splitlines() or [""])[-1].split()
    if probe.returncode or len(words) != 3:
        return ("MindSpore does not import: "
                + (probe.stderr.strip().splitlines() or ["?"])[-1], lines)
    lines.insert(0, f"- MindSpore {words[0]}: GPU available {words[1]}, devices {words[2]}")
    if words[1] != "True" or words[2] == "0":
        return (f"MindSpore {words[0]} sees no GPU (mindspore.device_context.gpu."
                "is_available() is False or no device)", lines)
    return None, lines


# ---- the orchestrating side --------------------------------------------------------------------

class Budget:
    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return max(0.0, self.end - time.monotonic())


class Report:
    """The Markdown report, rewritten whole (atomically) after every part."""

    def __init__(self, path: str):
        self.path, self.sections = path, []

    def add(self, title: str, lines: List[str]) -> None:
        self.sections.append((title, lines))
        self.write()
        print(f"device_check: {title}: done", file=sys.stderr, flush=True)

    def write(self) -> None:
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        text = "# Device check\n"
        for title, lines in self.sections:
            text += f"\n## {title}\n\n" + "\n".join(lines) + "\n"
        tmp = self.path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, self.path)


def run_part(name: str, args, timeout: float) -> Tuple[Optional[Dict], str]:
    """(result, '') or (None, why) for ``--part name`` in a subprocess."""
    cmd = [sys.executable, os.path.abspath(__file__), "--part", name, "--device", args.device]
    if args.dry:
        cmd.append("--cpu-dry-run")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return None, f"cut: over its {timeout:.0f} s budget"
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode or not lines:
        return None, "failed: " + (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return json.loads(lines[-1]), ""


def _benchmark_module():
    spec = importlib.util.spec_from_file_location("acmix_benchmark", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def benchmark_rows(frameworks: str, args, budget: float) -> List[str]:
    """acmix-benchmark's module and ACmix-ResNet-50 rows on the device, case by case until the
    budget runs out; report lines (the table, then what was cut)."""
    bench = _benchmark_module()
    argv = ["--device", args.device, "--frameworks", frameworks, "--repeats", str(args.repeats),
            "--warmup", str(args.warmup)]
    if args.dry:  # the module's training rows only: the flow, not the numbers
        argv += ["--quick", "--module-shape", "1,8,9,9", "--only", "module,fwd+bwd"]
    bargs = bench.parse_args(argv)
    todo = [c for c in bench.cases(bargs) if c["model"] in ("module", "resnet50")]
    end = time.monotonic() + budget
    rows, cut = [], []
    for case in todo:
        left = end - time.monotonic()
        if left < 5:
            cut.append(case)
            continue
        rows.append(bench.spawn(case, min(args.case_timeout, left)))
        r = rows[-1]
        print(f"device_check: {r['framework']} {r['model']} {r['impl']} {r['pass']}: "
              f"{r.get('time_s', float('nan')):.4f} s {r.get('error', '')}", file=sys.stderr,
              flush=True)
    bench.add_ratios(rows)
    shape = tuple(bargs.module_shape)
    macs = bench.acmix_macs(shape, **bench.MODULE_ARGS)["total"]
    lines = [f"`python ms_acmix/cli/benchmark.py {' '.join(argv)}`, the module and resnet50 "
             f"cases; batch {bargs.batch}, {bargs.img_size} px, module {shape}; forward "
             f"multiply-adds: ACmix {macs / 1e6:.4g} M, plain 3x3 conv "
             f"{bench.conv3x3_macs(shape) / 1e6:.4g} M.", "", bench.table(rows)]
    if cut:
        lines += ["", f"Cut (over the part's {budget:.0f} s budget): "
                  + ", ".join(f"{c['framework']} {c['model']} {c['impl']} {c['pass']}"
                              for c in cut)]
    return lines


def exactness_lines(result: Dict) -> List[str]:
    lines = ["torch_ref `attn_impl=\"fast\"` against `\"unfold\"` (the official formulation), "
             "same weights, TF32 off; error / bound under `acmix_common.tolerance`'s float32 "
             "policy (forward rtol 1e-5, gradients rtol 1e-4, normwise; a gradient that float64 "
             "shows zero by cancellation, the position conv's bias, at the largest gradient's "
             "scale); each also against float64 unfold on the device (max error / max value, "
             "over all results).", "",
             "| case | output err/bound | worst gradient | its err/bound | fast vs f64 "
             "| unfold vs f64 | verdict |", "|---|---|---|---|---|---|---|"]

    def fmt(v):
        return "-" if v is None else f"{v:.2e}"
    for r in result["rows"]:
        lines.append(f"| {r['case']} | {r['output']:.3f} | {r['worst_grad']} | "
                     f"{r['grad']:.3f} | {fmt(r['fast_vs_f64'])} | {fmt(r['unfold_vs_f64'])} | "
                     f"{r['verdict']} |")
    return lines


def parity_lines(budget: float, log_path: str) -> List[str]:
    """pytest parity/ --parity-device GPU under the ci profile, within ``budget``."""
    cmd = [sys.executable, "-m", "pytest", "parity/", "-v", "-p", "no:cacheprovider",
           "--parity-device", "GPU"]
    env = dict(os.environ, ACMIX_PARITY_PROFILE="ci", GLOG_v="3")
    with open(log_path, "w", encoding="utf-8") as log:
        try:
            proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                  timeout=budget, check=False)
            status = f"exit {proc.returncode}"
        except subprocess.TimeoutExpired:
            status = f"cut after its {budget:.0f} s budget"
    with open(log_path, encoding="utf-8") as f:
        text = f.read()
    counts = {w: len(re.findall(rf" {w}( |$)", text, re.M))
              for w in ("PASSED", "FAILED", "SKIPPED", "ERROR")}
    summary = (re.findall(r"^=+ (.* in [\d.]+s.*) =+$", text, re.M) or [""])[-1]
    return [f"`ACMIX_PARITY_PROFILE=ci {' '.join(cmd[1:])}`: {status}; "
            + ", ".join(f"{v} {k.lower()}" for k, v in counts.items())
            + (f" ({summary})" if summary else "") + f"; log: {log_path}"]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--output", help="the report (default outputs/device_check_<UTC time>.md)")
    p.add_argument("--budget", type=float, default=540,
                   help="seconds for everything (540: under 10 minutes with start-up)")
    p.add_argument("--repeats", type=int, default=10, help="timed calls per benchmark case (10)")
    p.add_argument("--warmup", type=int, default=3, help="untimed calls per case (3)")
    p.add_argument("--case-timeout", type=float, default=90,
                   help="seconds per benchmark case (90)")
    p.add_argument("--cpu-dry-run", dest="dry", action="store_true",
                   help="run every part on the CPU at tiny sizes (tests this script without a "
                        "GPU; the numbers mean nothing)")
    p.add_argument("--part", choices=sorted(PARTS), help=argparse.SUPPRESS)
    p.add_argument("--device", default="cuda", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.dry:
        args.device = "cpu"
    if args.budget <= 0 or args.repeats < 1 or args.warmup < 0 or args.case_timeout <= 0:
        p.error(f"--budget={args.budget}, --repeats={args.repeats}, --warmup={args.warmup} "
                f"and --case-timeout={args.case_timeout} must be positive")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.part:
        print(json.dumps(PARTS[args.part](args)), flush=True)
        return 0
    if not args.dry:
        why = no_gpu_reason()
        if why:
            print(f"device_check: no NVIDIA GPU here ({why}): nothing run, nothing written")
            return EXIT_NO_GPU
    budget = Budget(args.budget)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = args.output or os.path.join(ROOT, "outputs", f"device_check_{stamp}.md")
    report = Report(path)
    print(f"device_check: writing {path}", flush=True)

    lines = [f"- started {stamp}; budget {args.budget:.0f} s"
             + ("; CPU DRY RUN (--cpu-dry-run): no GPU involved, numbers meaningless"
                if args.dry else "")]
    if shutil.which("nvidia-smi"):
        smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total",
                              "--format=csv,noheader"], capture_output=True, text=True,
                             timeout=60, check=False)
        lines.append(f"- nvidia-smi: {smi.stdout.strip() or smi.stderr.strip()}")
    env, why = run_part("environment", args, min(120, budget.left()))
    lines += [f"- {k}: {v}" for k, v in (env or {}).items()] or [f"- environment {why}"]
    report.add("Machine", lines)

    result, why = run_part("exactness", args, min(150, budget.left()))
    report.add("Exactness on the device: fast against unfold",
               exactness_lines(result) if result else [f"Exactness {why}"])

    report.add("PyTorch benchmark on the device",
               benchmark_rows("torch", args, min(270, budget.left() - 30)))

    why, ms_lines = mindspore_probe(sys.executable, min(120, budget.left()))
    if why:
        report.add("MindSpore on the GPU", [f"Not run: {why}."] + ms_lines)
    else:
        log = os.path.splitext(path)[0] + "_parity.log"
        parity = parity_lines(max(5.0, budget.left() * 0.6), log)
        rows = benchmark_rows("ms-graph", args, max(5.0, budget.left() - 10))
        report.add("MindSpore on the GPU", ms_lines + [""] + parity + [""] + rows)
    print(f"device_check: report {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
