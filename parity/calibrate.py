"""Measure the reference error model on fresh draws: how close MindSpore's float32 error comes to
the bound, per compared quantity (forward outputs and every gradient).

    python -m parity.calibrate [--draws 60] [--seed N]

Run it under other kernel paths to stand in for other processors, e.g.
``ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2`` or ``ONEDNN_MAX_CPU_ISA=SSE41
ATEN_CPU_CAPABILITY=default`` (both frameworks' CPU kernels honour these). For comparison it also
applies the single-sample rule the harness used before (4x one float32 run's error plus a tenth
of the direct tolerance).
"""
import argparse
import sys
import warnings

import numpy as np
import torch
from hypothesis import HealthCheck, given, seed, settings

from acmix_common.tolerance import POLICY
from parity.error_model import UNIT_ROUNDOFF, compare_to_reference

from .twins import (build, draw_cotangent, draw_input, forward_computation, grads_computation,
                    ms_forward, ms_grads, reference, torch_forward, torch_grads)
from .strategies import acmix_configs, model_configs, swin_block_configs


def _single_sample_bound(t32_error: float, scale: float, kind: str, context: float) -> float:
    tol = POLICY[("float32", kind)]
    extra = UNIT_ROUNDOFF["float32"] * context if kind == "grad" else 0.0
    return 0.1 * (tol.atol + tol.rtol * scale) + 4.0 * t32_error + extra


def measure(config):
    """Rows (quantity, ratio under the policy, ratio under the single-sample rule)."""
    t_model, m_model = build(config)
    x = draw_input(config)
    rows = []
    ref, noise = reference(forward_computation, t_model, {"x": x}, config.seed)
    actual, expected = ms_forward(m_model, x), ref["output"]
    scale = float(np.abs(expected).max())
    t32 = float(np.abs(torch_forward(t_model, x) - expected).max())
    error = float(np.abs(actual - expected).max())
    rows.append(("output", compare_to_reference(actual, expected, noise["output"]).ratio,
                 error / _single_sample_bound(t32, scale, "forward", scale)))
    cotangent = draw_cotangent(t_model, x, config.seed + 1)
    ref, noise = reference(grads_computation, t_model, dict(x=x, cotangent=cotangent),
                           config.seed)
    context = max(float(np.abs(g).max()) for g in ref.values())
    actual, single = ms_grads(m_model, x, cotangent), torch_grads(t_model, x, cotangent)
    for name, expected in ref.items():
        error = float(np.abs(actual[name] - expected).max())
        t32 = float(np.abs(single[name] - expected).max())
        old = _single_sample_bound(t32, float(np.abs(expected).max()), "grad", context)
        rows.append((f"grad {name}",
                     compare_to_reference(actual[name], expected, noise[name], context,
                                          kind="grad").ratio,
                     error / old))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=60, help="draws per strategy (default 60)")
    parser.add_argument("--seed", type=int, default=0, help="Hypothesis seed (default 0)")
    args = parser.parse_args()
    if args.draws < 1:
        parser.error(f"--draws={args.draws} must be >= 1")
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    table = []
    for label, strategy, count in (("ACmix module", acmix_configs(), args.draws),
                                   ("Swin block", swin_block_configs(), args.draws),
                                   ("whole model", model_configs(), max(1, args.draws // 4))):
        @seed(args.seed)
        @settings(max_examples=count, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(strategy)
        def run(config):
            table.extend((label, config, *row) for row in measure(config))
        run()
        print(f"{label}: {count} draws", file=sys.stderr, flush=True)
    ratios = np.array([r[3] for r in table])
    old = np.array([r[4] for r in table])
    print(f"{len(table)} quantities; error / bound under the policy: max {ratios.max():.3f}, "
          f"99.9% {np.quantile(ratios, 0.999):.3f}, median {np.median(ratios):.4f}; "
          f"failures {int((ratios > 1).sum())}")
    print(f"under the single-sample rule: max {old.max():.3f}, failures {int((old > 1).sum())}")
    for label, config, name, ratio, _ in sorted(table, key=lambda r: -r[3])[:5]:
        print(f"  {ratio:.3f}  {label} {name}: {config}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
