#!/usr/bin/env python
"""Top-1 / top-5 accuracy of a model on an image folder (<folder>/<class>/<image>), in MindSpore.

Weights of either framework (official wrappings included), no training run needed; the
preprocessing is the model's official evaluation recipe from its metadata (Swin: resize
int(256/224 * size) bicubic + centre crop; ResNet: resize 256 bilinear + centre crop 224, PIL):

  acmix-eval --model acmix_swin_tiny --checkpoint acmix_swin_tiny.pth \\
      --data-dir /data/imagenet/val

Class folders are labelled in sorted order (as torchvision's ImageFolder: ImageNet's synset
folders give the standard indices). A checkpoint of a training run, with the run's config.yaml
and class names:

  acmix-eval --ckpt outputs/acmix_digits/<run>/checkpoints/best.ckpt \\
      --data-dir data/digits/val
"""
import argparse
import json
import os
import sys
import time
from typing import Dict

from ._flags import in_flags


class UsageError(ValueError):
    """A bad argument: one line naming it."""


def flags(args: argparse.Namespace) -> Dict[str, str]:
    """The parameters of evaluate_weights, restore and load_weights as this command names them
    (the weights file came by --checkpoint or by --ckpt)."""
    weights = "--checkpoint=" if getattr(args, "checkpoint", None) else "--ckpt="
    return {"name=": "--model=", "model_kwargs=": "--model-kwargs=", "checkpoint=": weights,
            "path=": weights, "ckpt_path=": "--ckpt=", "config_path=": "--config=",
            "data_dir=": "--data-dir=", "img_size=": "--img-size="}


def _reported(err: Exception) -> bool:
    """Errors printed on one line with exit code 2 (bad arguments, data or weights)."""
    if isinstance(err, (ValueError, RuntimeError)):
        return True
    from ckpt_convert.errors import CheckpointError  # the weights layer: only when needed
    return isinstance(err, CheckpointError)


class Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise UsageError(message)


def parse_args(argv=None) -> argparse.Namespace:
    p = Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="weights file: MindSpore .ckpt, PyTorch .pth/.pth.tar "
                     "(official Swin {'model': ...} and ResNet {'state_dict': 'module.'...} "
                     "wrappings, EMA copies) or safetensors; needs --model")
    src.add_argument("--ckpt", help="a training run's checkpoint (<run>/checkpoints/*.ckpt), "
                     "model and preprocessing from the run's config.yaml")
    p.add_argument("--model", help="registered model name, e.g. acmix_swin_tiny (with "
                   "--checkpoint)")
    p.add_argument("--model-kwargs", default="{}", help="JSON of create_model keyword arguments "
                   "(default: the registered variant; num_classes from the checkpoint)")
    p.add_argument("--img-size", type=int, help="input size of models that do not fix it "
                   "(ResNet; default 224)")
    p.add_argument("--ema", action="store_true", help="take the checkpoint's EMA copy")
    p.add_argument("--data-dir", required=True, help="image folder: <dir>/<class>/<image>")
    p.add_argument("--config", help="with --ckpt: YAML config (default: the run's config.yaml)")
    p.add_argument("--batch-size", type=int, default=0,
                   help="default: 32, or the run's train.eval_batch_size with --ckpt")
    p.add_argument("--workers", type=int, default=0,
                   help="mindspore.dataset parallel workers (default: min(8, CPUs))")
    p.add_argument("--device", default="CPU", choices=("CPU", "GPU", "Ascend"))
    p.add_argument("--mode", default="graph", choices=("graph", "pynative"))
    p.add_argument("--json", help="also write the result to this JSON file")
    p.add_argument("--predictions", help="write path, label, top-1 and logits of every image "
                   "to this JSON file")
    return p.parse_args(argv)


def check_args(args: argparse.Namespace) -> None:
    """Cheap checks before MindSpore is imported."""
    if args.checkpoint is not None:
        if not args.model:
            raise UsageError("--model is required with --checkpoint")
        if not os.path.isfile(args.checkpoint):
            raise UsageError(f"--checkpoint={args.checkpoint!r} does not exist")
        try:
            args.model_kwargs = json.loads(args.model_kwargs)
        except json.JSONDecodeError as err:
            raise UsageError(f"--model-kwargs={args.model_kwargs!r} is not JSON: {err}") from None
        if not isinstance(args.model_kwargs, dict):
            raise UsageError(f"--model-kwargs={json.dumps(args.model_kwargs)} must be a JSON "
                             "object")
        from acmix_common.variants import model_info
        model_info(args.model)
    elif args.model:
        raise UsageError("--model goes with --checkpoint; --ckpt takes the run's model")
    if not os.path.isdir(args.data_dir):
        raise UsageError(f"--data-dir={args.data_dir!r} is not a directory")
    for name in ("batch_size", "workers"):
        if getattr(args, name) < 0:
            raise UsageError(f"--{name.replace('_', '-')}={getattr(args, name)} must be >= 0")
    if args.img_size is not None and args.img_size <= 0:
        raise UsageError(f"--img-size={args.img_size} must be > 0")


def progress_printer(every: float = 10.0):
    last = [0.0]

    def progress(done: int, total: int, seconds: float) -> None:
        if seconds - last[0] >= every or done == total:
            last[0] = seconds
            rate = done / max(seconds, 1e-9)
            eta = (total - done) / max(rate, 1e-9)
            print(f"  {done}/{total} images, {rate:.1f} img/s, ~{eta:.0f} s left", flush=True)
    return progress


def eval_weights(args) -> dict:
    from ms_acmix.train.eval_weights import evaluate_weights
    print(f"evaluating {args.model} from {args.checkpoint} on {args.data_dir} ...", flush=True)
    result = evaluate_weights(args.model, args.checkpoint, args.data_dir,
                              model_kwargs=args.model_kwargs, img_size=args.img_size,
                              batch_size=args.batch_size or 32,
                              workers=args.workers or min(8, os.cpu_count() or 1), ema=args.ema,
                              progress=progress_printer())
    if args.predictions:
        from ms_acmix.train.checkpoint import write_json
        logits = result["logits"]
        write_json([dict(path=p, label=int(lab), top1=int(row.argmax()), logits=row.tolist())
                    for p, lab, row in zip(result["paths"], result["labels"], logits)],
                   os.path.abspath(args.predictions))
    return {k: v for k, v in result.items() if k not in ("paths", "labels", "logits")}


def eval_run(args) -> dict:
    from ms_acmix.train.data import eval_batches
    from ms_acmix.train.evaluate import evaluate
    from ms_acmix.train.imagefolder import scan_split
    from ms_acmix.train.restore import restore

    model, cfg, info = restore(args.ckpt, args.config)
    classes = info["classes"] or sorted(e.name for e in os.scandir(args.data_dir) if e.is_dir())
    _, samples = scan_split(args.data_dir, {c: i for i, c in enumerate(classes)})
    if args.batch_size:
        cfg["train"]["eval_batch_size"] = args.batch_size
    if args.workers:
        cfg["data"]["workers"] = args.workers
    print(f"evaluating {len(samples)} images ...", flush=True)
    result = evaluate(model, eval_batches(samples, cfg, 0, 1), None,
                      lambda i: i % 50 or print(f"  {i} batches", flush=True))
    return dict(result, ckpt=os.path.abspath(args.ckpt))


def main(argv=None) -> int:
    args = None
    try:
        args = parse_args(argv)
        check_args(args)
        import mindspore as ms
        ms.set_device(args.device)
        ms.set_context(mode=ms.GRAPH_MODE if args.mode == "graph" else ms.PYNATIVE_MODE)
        start = time.time()
        result = eval_weights(args) if args.checkpoint else eval_run(args)
    except Exception as err:  # noqa: BLE001  (UsageError, DataError, CheckpointError, ...)
        if not _reported(err):
            raise
        message = str(err).splitlines()[0]
        print(f"error: {in_flags(message, flags(args)) if args else message}", file=sys.stderr)
        return 2
    result.update(data_dir=os.path.abspath(args.data_dir), seconds=round(time.time() - start, 2))
    print(f"top-1 {result['top1']:.2f}%  top-5 {result['top5']:.2f}%  loss {result['loss']:.4f}"
          f"  on {result['count']} images ({args.data_dir})")
    if args.json:
        from ms_acmix.train.checkpoint import write_json
        write_json(result, os.path.abspath(args.json))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
