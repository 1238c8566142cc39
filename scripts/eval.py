#!/usr/bin/env python
"""Top-1 / top-5 accuracy of a checkpoint on an image folder (<folder>/<class>/<image>).

The model and its preprocessing come from the run's config.yaml (next to checkpoints/) unless
--config is given; class folders are matched by name to the classes the run trained on.

  python scripts/eval.py --ckpt outputs/acmix_digits/<run>/checkpoints/best.ckpt \\
      --data-dir data/digits/val
"""
import argparse
import json
import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ckpt", required=True, help="model checkpoint (epoch_NNNN.ckpt, best.ckpt)")
    p.add_argument("--data-dir", required=True, help="image folder: <dir>/<class>/<image>")
    p.add_argument("--config", help="YAML config (default: the run's config.yaml)")
    p.add_argument("--device", default="CPU", choices=("CPU", "GPU", "Ascend"))
    p.add_argument("--batch-size", type=int, default=0, help="default: train.eval_batch_size")
    p.add_argument("--json", help="also write the result to this JSON file")
    args = p.parse_args()
    try:
        import mindspore as ms

        from ms_acmix.train.checkpoint import write_json
        from ms_acmix.train.data import eval_batches
        from ms_acmix.train.evaluate import evaluate
        from ms_acmix.train.imagefolder import scan_split
        from ms_acmix.train.restore import restore

        if args.batch_size < 0:
            raise ValueError(f"--batch-size={args.batch_size} must be >= 0")
        ms.set_context(mode=ms.GRAPH_MODE)
        ms.set_device(args.device)
        model, cfg, info = restore(args.ckpt, args.config)
        classes = info["classes"] or sorted(
            e.name for e in os.scandir(args.data_dir) if e.is_dir())
        _, samples = scan_split(args.data_dir, {c: i for i, c in enumerate(classes)})
        if args.batch_size:
            cfg["train"]["eval_batch_size"] = args.batch_size
        start = time.time()
        print(f"evaluating {len(samples)} images ...", flush=True)
        result = evaluate(model, eval_batches(samples, cfg, 0, 1), None,
                          lambda i: i % 50 or print(f"  {i} batches", flush=True))
    except (ValueError, RuntimeError) as err:
        print(f"error: {str(err).splitlines()[0]}", file=sys.stderr)
        return 2
    result.update(ckpt=os.path.abspath(args.ckpt), data_dir=os.path.abspath(args.data_dir),
                  seconds=round(time.time() - start, 2))
    print(f"top-1 {result['top1']:.2f}%  top-5 {result['top5']:.2f}%  loss {result['loss']:.4f}"
          f"  on {result['count']} images ({args.data_dir})")
    if args.json:
        write_json(result, os.path.abspath(args.json))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
