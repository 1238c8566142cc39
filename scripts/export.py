#!/usr/bin/env python
"""Export a checkpoint to MINDIR (inference graph, batch x in_chans x img_size x img_size).

The file is written under a temporary name, reloaded with ``mindspore.load`` and run on a random
batch; it is renamed into place only if its logits match the model's.

  python scripts/export.py --ckpt outputs/acmix_digits/<run>/checkpoints/best.ckpt \\
      --out outputs/acmix_digits.mindir
"""
import argparse
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


def export(ckpt: str, out: str, config: str = None, batch: int = 1, device: str = "CPU",
           tol: float = 1e-4) -> float:
    """Write ``out`` (.mindir); return the max |logit difference| of the reloaded graph."""
    import mindspore as ms
    import numpy as np
    from mindspore import Tensor, nn

    from ms_acmix.train.restore import restore

    if not out.endswith(".mindir"):
        raise ValueError(f"--out {out!r} must end with .mindir")
    if batch < 1:
        raise ValueError(f"--batch-size={batch} must be >= 1")
    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_device(device)
    model, cfg, _ = restore(ckpt, config)
    size, chans = cfg["data"]["img_size"], cfg["data"]["in_chans"]
    x = Tensor(np.random.default_rng(0).standard_normal((batch, chans, size, size), np.float32))
    out = os.path.abspath(out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    tmp_stem = os.path.join(os.path.dirname(out), ".tmp-" + os.path.basename(out)[:-7])
    ms.export(model, x, file_name=tmp_stem, file_format="MINDIR")
    tmp = tmp_stem + ".mindir"
    try:
        graph = nn.GraphCell(ms.load(tmp))
        diff = float(np.abs(graph(x).asnumpy() - model(x).asnumpy()).max())
        if not diff <= tol:
            raise RuntimeError(f"exported graph differs from the model by {diff:.3g} > {tol}")
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return diff


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ckpt", required=True, help="model checkpoint (epoch_NNNN.ckpt, best.ckpt)")
    p.add_argument("--out", required=True, help="output file, ending in .mindir")
    p.add_argument("--config", help="YAML config (default: the run's config.yaml)")
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--device", default="CPU", choices=("CPU", "GPU", "Ascend"))
    args = p.parse_args()
    try:
        diff = export(args.ckpt, args.out, args.config, args.batch_size, args.device)
    except (ValueError, RuntimeError) as err:
        print(f"error: {str(err).splitlines()[0]}", file=sys.stderr)
        return 2
    print(f"wrote {os.path.abspath(args.out)} (reloaded logits match to {diff:.2e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
