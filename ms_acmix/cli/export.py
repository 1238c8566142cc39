"""``acmix-export`` (``scripts/export.py`` in a checkout): export a registered model (or a
training run's checkpoint) to ONNX or MINDIR. Every file is checked before it is written: ONNX
passes onnx.checker (full_check), states the requested opset, has a symbolic batch dimension and
reproduces the framework's outputs in onnxruntime (CPU) at batch sizes 1 and 5; MINDIR reloads
and reproduces the logits.

  acmix-export --model acmix_resnet26 --framework ms --format onnx \\
      --checkpoint acmix_resnet26.ckpt --output acmix_resnet26_ms.onnx
  acmix-export --model acmix_swin_tiny --framework torch --format onnx \\
      --checkpoint official_swin_t.pth --output acmix_swin_tiny_torch.onnx
  acmix-export --checkpoint <run>/checkpoints/best.ckpt --output model.mindir
"""
import argparse
import json
import os
import sys
from typing import List, Optional

from model_export.api import DEFAULT_OPSET, FORMATS, MIN_OPSET
from model_export.errors import ExportError

from ._flags import in_flags

# The parameters of model_export, ms_acmix.create_model, load_weights and restore, as this
# command names them.
FLAGS = {"name=": "--model=", "model_kwargs=": "--model-kwargs=", "path=": "--checkpoint=",
         "ckpt_path=": "--checkpoint=", "config_path=": "--config=", "framework=": "--framework=",
         "fmt=": "--format=", "output=": "--output=", "opset=": "--opset=",
         "batch=": "--batch-size=", "img_size=": "--img-size="}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="acmix-export", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="registered model name (omit to export a training run's "
                   "checkpoint, whose config.yaml names the model)")
    p.add_argument("--framework", choices=("ms", "torch"), default="ms",
                   help="which implementation to trace (default: ms)")
    p.add_argument("--format", choices=FORMATS, help="default: from --output's extension")
    p.add_argument("--checkpoint", "--ckpt", dest="checkpoint",
                   help="weights: a MindSpore .ckpt or a PyTorch .pth/.pth.tar/.safetensors, "
                   "official wrappings included (default: freshly initialised weights)")
    p.add_argument("--img-size", type=int, help="input height and width (default: the model's, "
                   "224; a model that fixes its size at construction, such as Swin, is built "
                   "for it)")
    p.add_argument("--model-kwargs", default="{}", help="JSON constructor arguments, e.g. "
                   "'{\"num_classes\": 10}'")
    p.add_argument("--opset", type=int, default=DEFAULT_OPSET,
                   help=f"ONNX opset of the written file, {MIN_OPSET}..newest (default "
                   f"{DEFAULT_OPSET}); MindSpore's exporter writes 11 and the graph is converted")
    p.add_argument("--batch-size", type=int, default=1,
                   help="MINDIR only: the fixed batch of the graph (ONNX batch is dynamic)")
    p.add_argument("--config", help="training run only: YAML config (default: the run's)")
    p.add_argument("--output", "--out", dest="output", required=True,
                   help="file to write (.onnx or .mindir); written only after every check passes")
    p.add_argument("--report", help="also write what was checked as JSON here")
    return p


def _from_run(args):
    """(model, channels-height-width) of a training run's checkpoint."""
    if args.framework != "ms":
        raise ExportError("a training run's checkpoint is a MindSpore model: use --framework=ms, "
                          "or name --model to export PyTorch")
    if not args.checkpoint:
        raise ExportError("give --model NAME, or --checkpoint <run>/checkpoints/<file>.ckpt")
    from ms_acmix.train.restore import restore
    model, cfg, _ = restore(args.checkpoint, args.config)
    size = cfg["data"]["img_size"]
    return model, (cfg["data"]["in_chans"], size, size)


def _from_registry(args):
    from model_export.build import build_model, input_chw, model_kwargs
    try:
        extra = json.loads(args.model_kwargs)
    except json.JSONDecodeError as exc:
        raise ExportError(f"--model-kwargs={args.model_kwargs!r} is not JSON: {exc}") from None
    if not isinstance(extra, dict):
        raise ExportError(f"--model-kwargs={args.model_kwargs!r} must be a JSON object")
    if args.img_size is not None and args.img_size < 1:
        raise ExportError(f"--img-size={args.img_size} must be >= 1")
    kwargs = model_kwargs(args.model, extra, args.img_size)
    model = build_model(args.framework, args.model, kwargs, args.checkpoint)
    return model, input_chw(args.model, kwargs, args.img_size)


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    fmt = args.format or os.path.splitext(args.output)[1].lstrip(".")
    from ckpt_convert import CheckpointError
    try:
        from model_export.api import check_request, export_model
        check_request(args.framework, fmt, args.output, args.opset)
        model, chw = _from_registry(args) if args.model else _from_run(args)
        report = export_model(model, args.framework, chw, fmt, args.output, args.opset,
                              args.batch_size)
    except (ExportError, CheckpointError, ValueError) as err:
        print(f"error: {in_flags(str(err), FLAGS)}", file=sys.stderr)
        return 2
    if args.report:
        with open(args.report, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2)
    where = os.path.abspath(args.output)
    if fmt == "onnx":
        diffs = ", ".join(f"batch {b}: {d:.2e}" for b, d in report["max_abs_diff_by_batch"].items())
        print(f"wrote {where} (opset {report['opset']}, batch dynamic; onnxruntime matches the "
              f"model: {diffs}; {report['seconds']} s)")
    else:
        print(f"wrote {where} (reloaded logits match to {report['max_abs_diff']:.2e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
