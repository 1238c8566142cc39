"""Time and memory of ACmix in PyTorch and MindSpore (PYNATIVE, GRAPH), both attention
formulations, against the plain backbones; one table from one run.

Every case runs in a fresh subprocess. Time: median over --repeats calls after --warmup calls
(the first call, which compiles in GRAPH mode, is timed on its own). Peak memory: the process's
peak resident set (VmHWM, reset through /proc/self/clear_refs after the warm-up) during the timed
calls, minus its resident set once the model and inputs were built, before the first call: what
the calls need beyond the weights and inputs, allocator pools included.

    acmix-benchmark                       # the full table (~1.5 h on 2 cores)
    acmix-benchmark --quick               # small sizes, a few minutes
    acmix-benchmark --only module --json  # ACmix module rows, as JSON
    acmix-benchmark --pipeline            # training-pipeline images/s (224 px)

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

FRAMEWORKS = ("torch", "ms-pynative", "ms-graph")
FRAMEWORK_NAMES = {"torch": "PyTorch", "ms-pynative": "MindSpore PYNATIVE",
                   "ms-graph": "MindSpore GRAPH"}
PASSES = ("fwd", "fwd+bwd")
# model -> (registry name or None for the module, implementations); "plain" is the backbone.
MODELS = {
    "module": (None, ("unfold", "fast")),
    "resnet50": ("acmix_resnet50", ("unfold", "fast", "plain")),
    "swin_t": ("acmix_swin_tiny", ("acmix", "plain")),
}
PLAIN_MIXER = {"resnet50": "conv", "swin_t": "attention"}
OFFICIAL = {"module": "unfold", "resnet50": "unfold", "swin_t": "acmix"}


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def _model_kwargs(case: dict) -> dict:
    impl = case["impl"]
    if impl == "plain":
        return {"mixer": PLAIN_MIXER[case["model"]]}
    return {"attn_impl": impl} if impl in ("unfold", "fast") else {}


def _torch_case(case: dict):
    import torch
    torch.set_num_threads(case["threads"])
    import torch_ref
    torch.manual_seed(0)
    if case["model"] == "module":
        n, c, h, w = case["module_shape"]
        model = torch_ref.ACmix(c, c, attn_impl=case["impl"])
        x = torch.randn(n, c, h, w)
    else:
        model = torch_ref.create_model(MODELS[case["model"]][0], **_model_kwargs(case))
        x = torch.randn(case["batch"], 3, case["img_size"], case["img_size"])
    if case["pass"] == "fwd":
        model.eval()

        def step():
            with torch.no_grad():
                model(x)
    else:
        model.train()
        x.requires_grad_(True)

        def step():
            model.zero_grad(set_to_none=True)
            model(x).sum().backward()
    return step


def _ms_case(case: dict):
    import mindspore as ms
    import numpy as np
    from mindspore import Tensor
    ms.set_device("CPU")
    ms.set_context(mode=ms.PYNATIVE_MODE, runtime_num_threads=case["threads"])
    import ms_acmix
    rng = np.random.default_rng(0)
    if case["model"] == "module":
        n, c, h, w = case["module_shape"]
        model = ms_acmix.ACmix(c, c, attn_impl=case["impl"])
        x = Tensor(rng.standard_normal((n, c, h, w)).astype(np.float32))
    else:
        model = ms_acmix.create_model(MODELS[case["model"]][0], **_model_kwargs(case))
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
    return step


def run_case(case: dict) -> dict:
    """Time one case in this process (the --worker side)."""
    if case.get("kind") == "pipeline":
        return run_pipeline_case(case)
    step = (_torch_case if case["framework"] == "torch" else _ms_case)(case)
    baseline = _status_kib("VmRSS")
    start = time.perf_counter()
    step()
    first = time.perf_counter() - start
    for _ in range(case["warmup"]):
        step()
    _reset_peak()
    times = []
    for _ in range(case["repeats"]):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    median = statistics.median(times) if times else first
    return dict(case, time_s=median, times_s=times, first_call_s=first,
                peak_mib=max(0, _status_kib("VmHWM") - baseline) / 1024)


def cases(args) -> list:
    out = []
    for model, (_, impls) in MODELS.items():
        for framework in args.frameworks:
            for impl in impls:
                for pass_ in PASSES:
                    case = dict(framework=framework, model=model, impl=impl, **{"pass": pass_},
                                module_shape=args.module_shape, batch=args.batch,
                                img_size=args.img_size, repeats=args.repeats,
                                warmup=args.warmup, threads=args.threads)
                    label = f"{framework} {model} {impl} {pass_}"
                    if all(word in label for word in args.only):
                        out.append(case)
    return out


def spawn(case: dict, timeout: float) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(case["threads"]),
               GLOG_v="3")
    proc = subprocess.run([sys.executable, "-m", __spec__.name, "--worker",
                           json.dumps(case)], env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)
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


def _fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def table(rows: list) -> str:
    head = ("| framework | impl | model | pass | median s | peak MiB | x official torch (time) "
            "| x official torch (mem) | x plain backbone |")
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
    if unknown or len(args.module_shape) != 4:
        p.error(f"bad --frameworks {sorted(unknown)} or --module-shape {args.module_shape}")
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
    if args.json:
        print(json.dumps({"threads": args.threads, "cpus": os.cpu_count(), "rows": rows},
                         indent=1))
    else:
        print(f"threads={args.threads}, cpus={os.cpu_count()}, repeats={args.repeats}, "
              f"warmup={args.warmup}, batch={args.batch}, img={args.img_size}, "
              f"module={tuple(args.module_shape)}")
        print(table(rows))
    return 0 if all("error" not in r for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
