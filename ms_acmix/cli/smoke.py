"""Forward every registered model in both frameworks on one batch; print a table.

    acmix-smoke [--full] [--graph] [--model NAME ...]

By default each model's narrow variant at official depth (``model_info(name).small_kwargs``,
seconds); --full builds the official sizes at their default input (minutes).
Weights are drawn in PyTorch and loaded into MindSpore through ``ckpt_convert.load_weights``, so
the table's last column is the cross-framework gap of the logits. Exit code 1 if any differs.
"""
import argparse
import sys
import time
from typing import List, Optional

import mindspore as ms
import numpy as np
import torch
from mindspore import Tensor

import ms_acmix
import torch_ref
from acmix_common.tolerance import compare
from ckpt_convert import load_weights
from torch_ref.models.testing import draw_weights_


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="official sizes at the default input")
    parser.add_argument("--graph", action="store_true", help="MindSpore GRAPH mode (ms.jit)")
    parser.add_argument("--model", action="append", choices=torch_ref.list_models(),
                        metavar="NAME", help="only this model (repeatable; default: all of "
                        f"{', '.join(torch_ref.list_models())})")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    ms.set_device("CPU")
    rng = np.random.default_rng(0)
    failed = 0
    print(f"{'model':18} {'params':>11} {'logits':>10} {'torch s':>8} {'ms s':>8}  parity")
    for name in args.model or torch_ref.list_models():
        info = torch_ref.model_info(name)
        kwargs, chw = ({}, info.input_size) if args.full else (info.small_kwargs,
                                                               info.small_input_size)
        t_model = torch_ref.create_model(name, **kwargs).eval()
        draw_weights_(t_model, seed=0)
        m_model = ms_acmix.create_model(name, **kwargs)
        m_model.set_train(False)
        load_weights(m_model, t_model.state_dict())
        x = rng.standard_normal((1 if args.full else 2, *chw)).astype(np.float32)
        start = time.perf_counter()
        with torch.no_grad():
            expected = t_model(torch.from_numpy(x)).numpy()
        t_time = time.perf_counter() - start
        forward = ms.jit(m_model.construct) if args.graph else m_model
        start = time.perf_counter()
        actual = forward(Tensor(x)).asnumpy()
        m_time = time.perf_counter() - start
        result = compare(actual, expected)
        failed += not result.ok
        params = sum(p.numel() for p in t_model.parameters())
        print(f"{name:18} {params:>11,} {str(expected.shape):>10} {t_time:>8.2f} {m_time:>8.2f}  "
              f"{'ok' if result.ok else 'MISMATCH'} max_abs={result.max_abs:.1e}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
