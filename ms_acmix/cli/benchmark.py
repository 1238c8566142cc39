"""Time and memory of ACmix in PyTorch and MindSpore (PYNATIVE, GRAPH), both attention
formulations, against plain layers (a 3x3 conv for the module, the plain backbones for the
models), with gradient checkpointing on and off; one table from one run.

Every case runs in a fresh subprocess. Time: median over --repeats calls after --warmup calls
(the first call, which compiles in GRAPH mode, is timed on its own). Peak memory on the CPU: the
process's peak resident set (VmHWM, reset through /proc/self/clear_refs after the warm-up) during
the timed calls, minus its resident set once the model and inputs were built, before the first
call: what the calls need beyond the weights and inputs, allocator pools included. On CUDA
(--device cuda): torch.cuda.max_memory_allocated (MindSpore: mindspore.runtime's) during the
timed calls minus the memory allocated before the first call; TF32 off.

    acmix-benchmark                       # the full table (~2 h on 2 cores)
    acmix-benchmark --quick               # small sizes, a few minutes
    acmix-benchmark --only module --json  # ACmix module rows, as JSON
    acmix-benchmark --only resnet50,fwd+bwd --frameworks torch,ms-graph   # checkpointing ratio
    acmix-benchmark --device cuda --frameworks torch    # PyTorch on the GPU
    acmix-benchmark --pipeline            # training-pipeline images/s (224 px)

Implementations: "unfold" (the official formulation), "fast", "plain" (nn.Conv2d(C, C, 3,
padding=1) for the module; mixer="conv" / "attention" for the models) and "<impl>+ckpt" (the
model with set_grad_checkpointing(True): forward+backward only, where it acts). The module's
forward multiply-adds (from its shape and arithmetic) and the plain conv's are printed with the
time per multiply-add of each.

This file imports only the standard library at the top, and its torch cases import only torch
and torch_ref, so `python ms_acmix/cli/benchmark.py --frameworks torch` runs without MindSpore
(scripts/device_check.sh does so on a GPU machine).

--pipeline measures the training input pipeline instead: decode + the recipe's transforms at
224 px (Swin: RandomResizedCrop bicubic, flip, RandAugment, erasing; ResNet: crop bilinear,
flip) on JPEGs cut from the bundled photos, images/s per worker process, for ms_acmix's
mindspore.dataset pipeline at each --pipeline-workers count and for a plain PIL + NumPy loop in
one process applying the same transforms.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

if __name__ == "__main__" and sys.path and sys.path[0] == os.path.dirname(
        os.path.abspath(__file__)):
    sys.path.pop(0)  # run by path: the sibling commands (train.py, ...) must not shadow modules

FRAMEWORKS = ("torch", "ms-pynative", "ms-graph")
FRAMEWORK_NAMES = {"torch": "PyTorch", "ms-pynative": "MindSpore PYNATIVE",
                   "ms-graph": "MindSpore GRAPH"}
DEVICES = ("cpu", "cuda")
PASSES = ("fwd", "fwd+bwd")
CKPT = "+ckpt"  # an impl with this suffix: the model with gradient checkpointing on
# model -> (registry name or None for the module, implementations); "plain" is the plain layer.
MODELS = {
    "module": (None, ("unfold", "fast", "plain")),
    "resnet50": ("acmix_resnet50", ("unfold", "fast", "fast" + CKPT, "plain")),
    "swin_t": ("acmix_swin_tiny", ("acmix", "acmix" + CKPT, "plain")),
}
PLAIN_MIXER = {"resnet50": "conv", "swin_t": "attention"}
OFFICIAL = {"module": "unfold", "resnet50": "unfold", "swin_t": "acmix"}
# The module case: ACmix(C, C, **MODULE_ARGS), stride 1.
MODULE_ARGS = {"k_att": 7, "head": 4, "k_conv": 3}
# (framework, impl) -> why the case is not run.
SKIPPED = {("ms-pynative", "acmix" + CKPT):
           "MindSpore 2.10 PYNATIVE recomputation draws new drop-path masks (Swin-T's "
           "drop_path_rate 0.1), so ms_acmix refuses it (ms_acmix/models/checkpointing.py)"}


def acmix_macs(shape, k_att: int, head: int, k_conv: int) -> dict:
    """Forward multiply-adds of ``ACmix(C, C, k_att, head, k_conv)`` (stride 1) on an
    (N, C, H, W) input, by part: the three 1x1 projections; the position conv (1x1, 2 ->
    head_dim on one H x W grid); the attention core (q . k and att . v, each one head_dim-long
    product per head, position and window offset); fc (1x1, 3 * head -> k_conv^2, over
    (head_dim, H*W)); dep_conv (grouped k_conv x k_conv, groups head_dim, k_conv^2 inputs
    each). Softmax, the position subtraction and the rate mix are not multiply-adds."""
    n, c, h, w = shape
    hw = h * w
    head_dim = c // head
    parts = {"projections": 3 * n * hw * c * c,
             "position conv": hw * 2 * head_dim,
             "attention core": 2 * n * c * k_att * k_att * hw,
             "fc": n * head_dim * hw * 3 * head * k_conv * k_conv,
             "dep_conv": n * c * hw * k_conv ** 4}
    return dict(parts, total=sum(parts.values()))


def conv3x3_macs(shape) -> int:
    """Forward multiply-adds of nn.Conv2d(C, C, 3, padding=1) on an (N, C, H, W) input."""
    n, c, h, w = shape
    return n * h * w * c * c * 9


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def base_impl(impl: str) -> str:
    return impl[:-len(CKPT)] if impl.endswith(CKPT) else impl


def _model_kwargs(case: dict) -> dict:
    impl = base_impl(case["impl"])
    if impl == "plain":
        return {"mixer": PLAIN_MIXER[case["model"]]}
    return {"attn_impl": impl} if impl in ("unfold", "fast") else {}


def _torch_case(case: dict):
    """(step, peak-memory probe) of one PyTorch case."""
    import torch
    torch.set_num_threads(case["threads"])
    import torch_ref
    device = torch.device(case.get("device", "cpu"))
    if device.type == "cuda":  # float32 arithmetic, as the exactness policy
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(0)
    if case["model"] == "module":
        n, c, h, w = case["module_shape"]
        model = (torch.nn.Conv2d(c, c, 3, padding=1) if case["impl"] == "plain"
                 else torch_ref.ACmix(c, c, **MODULE_ARGS, attn_impl=case["impl"]))
        x = torch.randn(n, c, h, w)
    else:
        model = torch_ref.create_model(MODELS[case["model"]][0], **_model_kwargs(case))
        model.set_grad_checkpointing(case["impl"].endswith(CKPT))
        x = torch.randn(case["batch"], 3, case["img_size"], case["img_size"])
    model, x = model.to(device), x.to(device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    if case["pass"] == "fwd":
        model.eval()

        def step():
            with torch.no_grad():
                model(x)
            sync()
    else:
        model.train()
        x.requires_grad_(True)

        def step():
            model.zero_grad(set_to_none=True)
            model(x).sum().backward()
            sync()
    if device.type != "cuda":
        return step, None
    return step, _Probe(torch.cuda.memory_allocated, torch.cuda.reset_peak_memory_stats,
                        torch.cuda.max_memory_allocated)


class _Probe:
    """Device memory: allocated now (the baseline), reset of the peak, the peak since."""

    def __init__(self, allocated, reset, peak):
        self.allocated, self.reset, self.peak = allocated, reset, peak


def _ms_case(case: dict):
    import mindspore as ms
    import numpy as np
    from mindspore import Tensor
    gpu = case.get("device", "cpu") == "cuda"
    ms.set_device("GPU" if gpu else "CPU")
    ms.set_context(mode=ms.PYNATIVE_MODE, runtime_num_threads=case["threads"])
    if gpu:  # float32 arithmetic, as the exactness policy (parity/device.py)
        ms.device_context.gpu.op_precision.conv_allow_tf32(False)
        ms.device_context.gpu.op_precision.matmul_allow_tf32(False)
    import ms_acmix
    from ms_acmix.models.layers import conv2d
    rng = np.random.default_rng(0)
    if case["model"] == "module":
        n, c, h, w = case["module_shape"]
        model = (conv2d(c, c, 3, padding=1, has_bias=True) if case["impl"] == "plain"
                 else ms_acmix.ACmix(c, c, **MODULE_ARGS, attn_impl=case["impl"]))
        x = Tensor(rng.standard_normal((n, c, h, w)).astype(np.float32))
    else:
        model = ms_acmix.create_model(MODELS[case["model"]][0], **_model_kwargs(case))
        model.set_grad_checkpointing(case["impl"].endswith(CKPT))
        shape = (case["batch"], 3, case["img_size"], case["img_size"])
        x = Tensor(rng.standard_normal(shape).astype(np.float32))
    graph = case["framework"] == "ms-graph"
    if case["pass"] == "fwd":
        model.set_train(False)
        fn = ms.jit(model.construct) if graph else model
    else:
        model.set_train(True)

        def loss(inp):
            return model(inp).sum()

        fn = ms.grad(loss, grad_position=0, weights=model.trainable_params())
        fn = ms.jit(fn) if graph else fn

    def step():
        out = fn(x)
        (out[0] if isinstance(out, tuple) else out).asnumpy()
    if not gpu:
        return step, None
    return step, _Probe(ms.runtime.memory_allocated, ms.runtime.reset_peak_memory_stats,
                        ms.runtime.max_memory_allocated)


def run_case(case: dict) -> dict:
    """Time one case in this process (the --worker side)."""
    if case.get("kind") == "pipeline":
        return run_pipeline_case(case)
    step, probe = (_torch_case if case["framework"] == "torch" else _ms_case)(case)
    baseline = _status_kib("VmRSS") * 1024 if probe is None else probe.allocated()
    start = time.perf_counter()
    step()
    first = time.perf_counter() - start
    for _ in range(case["warmup"]):
        step()
    _reset_peak() if probe is None else probe.reset()
    times = []
    for _ in range(case["repeats"]):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    median = statistics.median(times) if times else first
    peak = _status_kib("VmHWM") * 1024 if probe is None else probe.peak()
    return dict(case, time_s=median, times_s=times, first_call_s=first,
                peak_mib=max(0, peak - baseline) / 2 ** 20)


def cases(args) -> list:
    """Every case the arguments select (checkpointing only in training: forward+backward)."""
    out = []
    for model, (_, impls) in MODELS.items():
        for framework in args.frameworks:
            for impl in impls:
                for pass_ in PASSES:
                    if impl.endswith(CKPT) and pass_ == "fwd" or (framework, impl) in SKIPPED:
                        continue
                    case = dict(framework=framework, model=model, impl=impl, **{"pass": pass_},
                                module_shape=args.module_shape, batch=args.batch,
                                img_size=args.img_size, repeats=args.repeats,
                                warmup=args.warmup, threads=args.threads, device=args.device,
                                mmap_threshold=args.malloc_mmap_threshold)
                    label = f"{framework} {model} {impl} {pass_}"
                    if all(word in label for word in args.only):
                        out.append(case)
    return out


def skipped_cases(args) -> dict:
    """'framework model impl' -> why it is not run, for the cases the arguments would select."""
    return {f"{f} {m} {i}": why for (f, i), why in SKIPPED.items()
            for m, (_, impls) in MODELS.items() if f in args.frameworks and i in impls
            and all(word in f"{f} {m} {i} fwd+bwd" for word in args.only)}


def spawn(case: dict, timeout: float) -> dict:
    """Run one case in a fresh process (this file by path: no package import, so the torch
    cases need no MindSpore)."""
    env = dict(os.environ, OMP_NUM_THREADS=str(case["threads"]),
               GLOG_v="3")
    if case.get("mmap_threshold"):  # glibc: blocks above it are mmapped, returned when freed
        env["MALLOC_MMAP_THRESHOLD_"] = str(case["mmap_threshold"])
    try:
        proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker",
                               json.dumps(case)], env=env, capture_output=True,
                              text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return dict(case, error=f"timed out after {timeout:.0f} s (--timeout)")
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode or not lines:
        return dict(case, error=(proc.stderr.strip().splitlines() or ["no output"])[-1])
    return json.loads(lines[-1])


def add_ratios(rows: list) -> None:
    def find(**keys):
        for r in rows:
            if all(r.get(k) == v for k, v in keys.items()) and "error" not in r:
                return r
        return None

    for r in rows:
        if "error" in r:
            continue
        official = find(framework="torch", model=r["model"], impl=OFFICIAL[r["model"]],
                        **{"pass": r["pass"]})
        plain = find(framework=r["framework"], model=r["model"], impl="plain",
                     **{"pass": r["pass"]})
        r["vs_official_torch"] = r["time_s"] / official["time_s"] if official else None
        r["mem_vs_official_torch"] = (r["peak_mib"] / official["peak_mib"]
                                      if official and official["peak_mib"] else None)
        r["vs_plain"] = r["time_s"] / plain["time_s"] if plain else None
        # checkpointing on over off: the same framework, model, pass and base impl
        off = find(framework=r["framework"], model=r["model"], impl=base_impl(r["impl"]),
                   **{"pass": r["pass"]}) if r["impl"].endswith(CKPT) else None
        r["mem_vs_no_ckpt"] = r["peak_mib"] / off["peak_mib"] if off and off["peak_mib"] else None
        r["time_vs_no_ckpt"] = r["time_s"] / off["time_s"] if off else None
        if r["model"] == "module":  # time per forward multiply-add, and over the plain conv's
            r["macs"] = (conv3x3_macs(r["module_shape"]) if r["impl"] == "plain" else
                         acmix_macs(r["module_shape"], **MODULE_ARGS)["total"])
            r["ns_per_mac"] = r["time_s"] / r["macs"] * 1e9
    for r in rows:
        plain = find(framework=r["framework"], model="module", impl="plain",
                     **{"pass": r.get("pass")}) if "ns_per_mac" in r else None
        r["per_mac_vs_plain"] = r["ns_per_mac"] / plain["ns_per_mac"] if plain else None


def _fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def table(rows: list) -> str:
    head = ("| framework | impl | model | pass | median s | peak MiB | x official torch (time) "
            "| x official torch (mem) | x plain (time) |")
    lines = [head, "|" + "---|" * 9]
    for r in rows:
        if "error" in r:
            lines.append(f"| {FRAMEWORK_NAMES[r['framework']]} | {r['impl']} | {r['model']} | "
                         f"{r['pass']} | error: {r['error'][:60]} | | | | |")
            continue
        lines.append(
            f"| {FRAMEWORK_NAMES[r['framework']]} | {r['impl']} | {r['model']} | {r['pass']} | "
            f"{r['time_s']:.3f} | {r['peak_mib']:.0f} | {_fmt(r['vs_official_torch'], '.2f')} | "
            f"{_fmt(r['mem_vs_official_torch'], '.2f')} | {_fmt(r['vs_plain'], '.2f')} |")
    ckpt_rows = [r for r in rows if r.get("mem_vs_no_ckpt") is not None]
    if ckpt_rows:
        lines += ["", "Gradient checkpointing (forward+backward), on over off:", "",
                  "| framework | impl | model | peak MiB on | peak MiB off | memory on/off "
                  "| time on/off |", "|---|---|---|---|---|---|---|"]
        lines += [f"| {FRAMEWORK_NAMES[r['framework']]} | {r['impl']} | {r['model']} | "
                  f"{r['peak_mib']:.0f} | {r['peak_mib'] / r['mem_vs_no_ckpt']:.0f} | "
                  f"{r['mem_vs_no_ckpt']:.2f} | {r['time_vs_no_ckpt']:.2f} |" for r in ckpt_rows]
    mac_rows = [r for r in rows if "ns_per_mac" in r]
    if mac_rows:
        lines += ["", "Forward multiply-adds and time per multiply-add (module):", "",
                  "| framework | impl | pass | M multiply-adds | ns per multiply-add "
                  "| x plain conv's |", "|---|---|---|---|---|---|"]
        lines += [f"| {FRAMEWORK_NAMES[r['framework']]} | {r['impl']} | {r['pass']} | "
                  f"{r['macs'] / 1e6:.4g} | {r['ns_per_mac']:.4g} | "
                  f"{_fmt(r['per_mac_vs_plain'], '.2f')} |" for r in mac_rows]
    compile_rows = [r for r in rows if r["framework"] == "ms-graph" and "error" not in r]
    if compile_rows:
        lines += ["", "GRAPH compile (first call minus the median call):", "",
                  "| impl | model | pass | first call s | compile s |", "|---|---|---|---|---|"]
        lines += [f"| {r['impl']} | {r['model']} | {r['pass']} | {r['first_call_s']:.1f} | "
                  f"{max(0.0, r['first_call_s'] - r['time_s']):.1f} |" for r in compile_rows]
    return "\n".join(lines)


def run_pipeline_case(case: dict) -> dict:
    """Median images/s over --repeats epochs of one pipeline case."""
    from ms_acmix.train import throughput
    samples = [(p, 0) for p in case["paths"]]
    cfg = throughput.recipe_config(case["recipe"], case["workers"])
    measure = throughput.measure_plain if case["impl"] == "plain" else throughput.measure_dataset
    runs = [measure(samples, cfg) for _ in range(max(1, case["repeats"]))]
    rate = statistics.median(r["images_per_s"] for r in runs)
    cpu = [r["cpu_ms_per_image"] for r in runs if r["cpu_ms_per_image"] is not None]
    return dict(case, paths=len(samples), images_per_s=rate,
                per_worker=rate / case["workers"],
                startup_s=statistics.median(r["startup_s"] for r in runs),
                cpu_ms_per_image=statistics.median(cpu) if cpu else None)


def pipeline_rows(args) -> list:
    import tempfile
    from ms_acmix.train.throughput import photo_folder
    with tempfile.TemporaryDirectory() as root:
        paths = [p for p, _ in photo_folder(root, args.pipeline_images)]
        rows = []
        for recipe in args.pipeline_recipes:
            for impl, workers in [("plain", 1)] + [("mindspore.dataset", w)
                                                   for w in args.pipeline_workers]:
                case = dict(kind="pipeline", recipe=recipe, impl=impl, workers=workers,
                            paths=paths, repeats=args.repeats, threads=1)
                rows.append(spawn(case, args.timeout))
                print(f"# {recipe} {impl} x{workers}: "
                      f"{rows[-1].get('images_per_s', float('nan')):.1f} img/s "
                      f"{rows[-1].get('error', '')}", file=sys.stderr, flush=True)
    for r in rows:
        plain = next((p for p in rows if p["recipe"] == r["recipe"] and p["impl"] == "plain"
                      and "error" not in p), None)
        if "error" not in r:
            r["vs_plain"] = r["images_per_s"] / plain["images_per_s"] if plain else None
    return rows


def pipeline_table(rows: list) -> str:
    lines = ["| recipe | pipeline | worker processes | images/s | per worker | start-up s "
             "| x plain loop | CPU ms / image |", "|" + "---|" * 8]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['recipe']} | {r['impl']} | {r['workers']} | error: "
                         f"{r['error'][:60]} | | | | |")
            continue
        lines.append(f"| {r['recipe']} | {r['impl']} | {r['workers']} | "
                     f"{r['images_per_s']:.1f} | {r['per_worker']:.1f} | {r['startup_s']:.2f} | "
                     f"{_fmt(r['vs_plain'], '.2f')} | {_fmt(r['cpu_ms_per_image'], '.2f')} |")
    return "\n".join(lines)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=8, help="batch of the whole models (8)")
    p.add_argument("--img-size", type=int, default=224, help="image side of the models (224)")
    p.add_argument("--module-shape", default="8,64,56,56",
                   help="N,C,H,W of the ACmix module case (8,64,56,56; in = out = C)")
    p.add_argument("--repeats", type=int, default=3, help="timed calls per case (3)")
    p.add_argument("--warmup", type=int, default=1, help="untimed calls after the first (1)")
    p.add_argument("--threads", type=int, default=2, help="intra-op threads, both frameworks")
    p.add_argument("--malloc-mmap-threshold", type=int, default=0, metavar="BYTES",
                   help="CPU memory: fix glibc's mmap threshold in the cases (e.g. 131072), so "
                        "freed blocks leave the resident set and the peak is the live memory, "
                        "not what the heap kept (0: glibc's own, growing threshold)")
    p.add_argument("--device", default="cpu", choices=DEVICES,
                   help="cpu (default) or cuda: PyTorch on CUDA, MindSpore on GPU")
    p.add_argument("--frameworks", default=",".join(FRAMEWORKS),
                   help=f"comma list of {', '.join(FRAMEWORKS)}")
    p.add_argument("--only", default="", help="keep cases whose 'framework model impl pass' "
                   "label contains every comma-separated word (e.g. module,fwd+bwd)")
    p.add_argument("--quick", action="store_true", help="small defaults: module 2,16,28,28, "
                   "models at batch 1 (ResNet at 128 px, Swin-T at 224), 2 repeats, no warm-up")
    p.add_argument("--timeout", type=float, default=1800, help="seconds per case (1800)")
    p.add_argument("--json", action="store_true", help="print the rows as JSON, no table")
    p.add_argument("--pipeline", action="store_true",
                   help="measure the training input pipeline instead of the models")
    p.add_argument("--pipeline-images", type=int, default=96,
                   help="JPEGs per epoch of the pipeline cases (96)")
    p.add_argument("--pipeline-workers", default="1,2",
                   help="comma list of mindspore.dataset worker counts (1,2)")
    p.add_argument("--pipeline-recipes", default="swin,resnet", help="comma list of swin, resnet")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    try:
        args.pipeline_workers = [int(w) for w in args.pipeline_workers.split(",") if w]
    except ValueError:
        p.error(f"--pipeline-workers={args.pipeline_workers!r} must be a comma list of integers")
    args.pipeline_recipes = [r for r in args.pipeline_recipes.split(",") if r]
    if (min(args.pipeline_workers, default=0) < 1 or args.pipeline_images < 2
            or set(args.pipeline_recipes) - {"swin", "resnet"}):
        p.error(f"bad --pipeline-workers {args.pipeline_workers}, --pipeline-images "
                f"{args.pipeline_images} or --pipeline-recipes {args.pipeline_recipes}")
    if args.quick:  # small defaults; options given explicitly still win
        quick = {"module_shape": "2,16,28,28", "batch": 1, "repeats": 2, "warmup": 0,
                 "img_size": 128}
        for name, value in quick.items():
            if getattr(args, name) == p.get_default(name):
                setattr(args, name, value)
    args.module_shape = [int(v) for v in args.module_shape.split(",")]
    args.frameworks = [f for f in args.frameworks.split(",") if f]
    args.only = [w for w in args.only.split(",") if w]
    unknown = set(args.frameworks) - set(FRAMEWORKS)
    if unknown or len(args.module_shape) != 4 or args.malloc_mmap_threshold < 0:
        p.error(f"bad --frameworks {sorted(unknown)}, --module-shape {args.module_shape} or "
                f"--malloc-mmap-threshold {args.malloc_mmap_threshold}")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(run_case(json.loads(args.worker))), flush=True)
        return 0
    if args.pipeline:
        rows = pipeline_rows(args)
        if args.json:
            print(json.dumps({"cpus": os.cpu_count(), "rows": rows}, indent=1))
        else:
            print(f"cpus={os.cpu_count()}, images/epoch={args.pipeline_images}, "
                  f"repeats={args.repeats}, 224 px")
            print(pipeline_table(rows))
        return 0 if all("error" not in r for r in rows) else 1
    rows = []
    for case in cases(args):
        if args.quick and case["model"] == "swin_t":
            case["img_size"] = 224  # Swin-T's windows need 224 (56, 28, 14, 7)
        rows.append(spawn(case, args.timeout))
        r = rows[-1]
        print(f"# {r['framework']} {r['model']} {r['impl']} {r['pass']}: "
              f"{r.get('time_s', float('nan')):.3f} s {r.get('error', '')}",
              file=sys.stderr, flush=True)
    add_ratios(rows)
    macs = {"module": acmix_macs(args.module_shape, **MODULE_ARGS),
            "plain_conv": conv3x3_macs(args.module_shape)}
    skipped = skipped_cases(args)
    if args.json:
        print(json.dumps({"threads": args.threads, "cpus": os.cpu_count(),
                          "device": args.device, "macs": macs, "skipped": skipped,
                          "malloc_mmap_threshold": args.malloc_mmap_threshold,
                          "rows": rows}, indent=1))
    else:
        print(f"device={args.device}{' (TF32 off)' if args.device == 'cuda' else ''}, "
              f"malloc mmap threshold={args.malloc_mmap_threshold or 'glibc default'}, "
              f"threads={args.threads}, cpus={os.cpu_count()}, repeats={args.repeats}, "
              f"warmup={args.warmup}, batch={args.batch}, img={args.img_size}, "
              f"module={tuple(args.module_shape)}")
        print(table(rows))
        parts = ", ".join(f"{k} {v / 1e6:.4g} M" for k, v in macs["module"].items()
                          if k != "total")
        print(f"\nForward multiply-adds at {tuple(args.module_shape)}: ACmix "
              f"{macs['module']['total'] / 1e6:.4g} M ({parts}); plain 3x3 conv "
              f"{macs['plain_conv'] / 1e6:.4g} M")
        for case, why in skipped.items():
            print(f"not run: {case}: {why}")
    return 0 if all("error" not in r for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
