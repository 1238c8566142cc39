"""Forward every registered model in both frameworks on one batch; print a table.

    python scripts/smoke.py [--full] [--graph]

By default narrow variants at official depths (seconds); --full builds the official sizes
at 224x224 (minutes).
Weights are drawn in PyTorch and copied to MindSpore, so the table's last column is the
cross-framework gap of the logits.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import mindspore as ms  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from mindspore import Tensor  # noqa: E402

import ms_acmix  # noqa: E402
import torch_ref  # noqa: E402
from parity.tolerance import compare  # noqa: E402
from parity.weights import draw_torch_weights_, torch_to_ms  # noqa: E402

SMALL = {
    "acmix_resnet": (dict(base_planes=16, num_classes=10), (2, 3, 128, 128)),
    "acmix_swin": (dict(img_size=64, embed_dim=24, window_size=4, num_classes=10), (2, 3, 64, 64)),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="official sizes at 224x224")
    parser.add_argument("--graph", action="store_true", help="MindSpore GRAPH mode (ms.jit)")
    args = parser.parse_args()
    ms.set_device("CPU")
    rng = np.random.default_rng(0)
    print(f"{'model':18} {'params':>11} {'logits':>10} {'torch s':>8} {'ms s':>8}  parity")
    for name in torch_ref.list_models():
        family = "acmix_swin" if "swin" in name else "acmix_resnet"
        kwargs, shape = ({}, (1, 3, 224, 224)) if args.full else SMALL[family]
        t_model = torch_ref.create_model(name, **kwargs).eval()
        draw_torch_weights_(t_model, seed=0)
        m_model = ms_acmix.create_model(name, **kwargs)
        m_model.set_train(False)
        torch_to_ms(t_model, m_model)
        x = rng.standard_normal(shape).astype(np.float32)
        start = time.perf_counter()
        with torch.no_grad():
            expected = t_model(torch.from_numpy(x)).numpy()
        t_time = time.perf_counter() - start
        forward = ms.jit(m_model.construct) if args.graph else m_model
        start = time.perf_counter()
        actual = forward(Tensor(x)).asnumpy()
        m_time = time.perf_counter() - start
        result = compare(actual, expected)
        params = sum(p.numel() for p in t_model.parameters())
        print(f"{name:18} {params:>11,} {str(expected.shape):>10} {t_time:>8.2f} {m_time:>8.2f}  "
              f"{'ok' if result.ok else 'MISMATCH'} max_abs={result.max_abs:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
