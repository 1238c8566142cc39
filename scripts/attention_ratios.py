"""The PyTorch ACmix speed ratios of issue 18, measured in one process (docs/benchmarks.md).

- module: ACmix(64, 64, k_att 7, head 4) forward and forward+backward on (8, 64, 56, 56),
  against nn.Conv2d(64, 64, 3, padding=1) on the same input;
- resnet50: ACmix-ResNet-50 forward+backward at batch 4, 224 px, against mixer="conv".

Each round times every case (median of --repeats calls after one warm-up call) back to back,
then prints the ratios; several rounds show the spread on a shared machine. --breakdown adds
the module's parts (attention path, conv path, q/k/v projections) in wall and CPU time.
The attention path in use (compiled kernel or PyTorch) is printed first; ACMIX_ATTN_KERNEL=0
forces the PyTorch path.
"""
import argparse
import statistics
import sys
import time
from typing import Callable, List, Optional

import torch
from torch import nn

import torch_ref
from torch_ref.models.local_attention import backend


def _time(fn: Callable[[], object], repeats: int) -> tuple:
    """(median wall, median CPU) seconds of fn over repeats calls after one warm-up call."""
    fn()
    wall, cpu = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return statistics.median(wall), statistics.median(cpu)


def _forward(model: nn.Module, x: torch.Tensor) -> Callable[[], object]:
    def call():
        with torch.no_grad():
            return model(x)
    return call


def _forward_backward(fn: Callable[[], torch.Tensor], params) -> Callable[[], object]:
    def call():
        for p in params:
            p.grad = None
        fn().sum().backward()
    return call


def _round(args) -> dict:
    torch.manual_seed(0)
    ratios = {}
    if "module" in args.only:
        x = torch.randn(8, 64, 56, 56, requires_grad=True)
        acmix = torch_ref.ACmix(64, 64, 7, 4, 3)
        conv = nn.Conv2d(64, 64, 3, padding=1)
        t = {name: _time(fn, args.repeats) for name, fn in [
            ("conv fwd", _forward(conv, x)), ("acmix fwd", _forward(acmix, x)),
            ("conv fwd+bwd", _forward_backward(lambda: conv(x), [x, *conv.parameters()])),
            ("acmix fwd+bwd", _forward_backward(lambda: acmix(x), [x, *acmix.parameters()]))]}
        for name, (wall, cpu) in t.items():
            print(f"  {name:14s} {wall * 1e3:8.1f} ms wall  {cpu * 1e3:8.1f} ms CPU")
        for i, clock in enumerate(CLOCKS):
            ratios["module fwd", clock] = t["acmix fwd"][i] / t["conv fwd"][i]
            ratios["module fwd+bwd", clock] = t["acmix fwd+bwd"][i] / t["conv fwd+bwd"][i]
        if args.breakdown:
            qkv = torch.randn(8, 3 * 64, 56, 56, requires_grad=True)
            q, k, v = qkv.chunk(3, 1)
            params = [qkv, *acmix.parameters()]
            for name, fn in [("attention path", lambda: acmix.forward_attention_fast(q, k, v)),
                             ("conv path", lambda: acmix.forward_conv_fast(qkv)),
                             ("q/k/v 1x1", lambda: acmix.projections(x))]:
                wall, cpu = _time(_forward_backward(fn, params), args.repeats)
                print(f"  {name:14s} {wall * 1e3:8.1f} ms wall  {cpu * 1e3:8.1f} ms CPU"
                      "  (fwd+bwd)")
    if "resnet50" in args.only:
        x = torch.randn(4, 3, 224, 224)
        acmix = torch_ref.create_model("acmix_resnet50")
        plain = torch_ref.create_model("acmix_resnet50", mixer="conv")
        t = {name: _time(_forward_backward(lambda m=m: m(x), list(m.parameters())),
                         args.repeats)
             for name, m in [("acmix r50", acmix), ("plain r50", plain)]}
        for name, (wall, cpu) in t.items():
            print(f"  {name:14s} {wall:8.3f} s wall   {cpu:8.3f} s CPU  (fwd+bwd)")
        for i, clock in enumerate(CLOCKS):
            ratios["resnet50 fwd+bwd", clock] = t["acmix r50"][i] / t["plain r50"][i]
    return ratios


GOALS = {"module fwd": 2.0, "module fwd+bwd": 2.5, "resnet50 fwd+bwd": 1.3}
# The goals are wall-time ratios; process CPU time is steadier on a shared machine (with one
# thread; with more it also counts the threads' spin-waits).
CLOCKS = ("wall", "CPU")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls a case (default 5)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of all cases (default 3)")
    parser.add_argument("--only", nargs="+", choices=["module", "resnet50"],
                        default=["module", "resnet50"], help="cases (default both)")
    parser.add_argument("--breakdown", action="store_true", help="time the module's parts")
    args = parser.parse_args(argv)
    for name in ("threads", "repeats", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1, got {getattr(args, name)}")
    torch.set_num_threads(args.threads)
    print(f"attention path: {backend()}; torch {torch.__version__}, {args.threads} threads")
    rounds = []
    for i in range(args.rounds):
        print(f"round {i + 1}/{args.rounds}", flush=True)
        rounds.append(_round(args))
        for (name, clock), ratio in rounds[-1].items():
            print(f"  ratio {name:16s} {clock:4s} {ratio:5.2f}x", flush=True)
    print("ratios (median of rounds; min-max; goal on wall time):")
    for name, clock in rounds[0]:
        values = [r[name, clock] for r in rounds]
        print(f"  {name:16s} {clock:4s} {statistics.median(values):5.2f}x  ({min(values):.2f}-"
              f"{max(values):.2f})  goal <= {GOALS[name]}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
