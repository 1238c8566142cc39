"""Command line of the checkpoint converter: ``acmix-convert`` (``scripts/convert_ckpt.py`` in a
checkout)."""
import argparse
import json
import os
import sys
from typing import List, Optional

from acmix_common.tolerance import POLICY
from acmix_common.variants import list_models

from ._flags import in_flags

_VERIFY = POLICY[("float32", "forward")]
# The converter's parameters (ckpt_convert.Options) as this command names them.
FLAGS = {"src=": "SRC=", "dst=": "DST=", "model=": "--model=", "name=": "--model=",
         "model_kwargs=": "--model-kwargs=", "ema=True": "--ema", "force=True": "--force",
         "verify=True": "--verify"}

DESCRIPTION = """\
Convert ACmix checkpoints between PyTorch (torch_ref) and MindSpore (ms_acmix).

SRC may be a PyTorch pickle (.pth, .pth.tar, .pt; a bare state dict, the official Swin or ResNet
training checkpoint, EMA copies), a safetensors file, or a MindSpore .ckpt / .safetensors. Pickles
are read with torch's weights-only unpickler: a file that references any other Python global than
tensors, containers, numpy scalars and yacs.config.CfgNode is refused, nothing in it is run.
DST's extension names the format written: .ckpt or .safetensors (torch2ms); .pth, .pt, .pth.tar
or .safetensors (ms2torch). DST is written beside itself under a temporary name, read back, loaded
into the target model, and renamed only when all checks pass.

Exit codes: 0 done; 2 bad input (one line on stderr: missing/corrupt/not-a-checkpoint SRC, a SRC
that does not fit --model, an existing DST without --force...); 1 the written file or --verify
did not match the source."""

EPILOG = """\
examples:
  %(prog)s torch2ms acmix_swin_tiny.pth acmix_swin_tiny.ckpt --model acmix_swin_tiny --verify
  %(prog)s torch2ms model_best.pth.tar r26.ckpt --model acmix_resnet26 \
      --model-kwargs '{"num_classes": 100}'
  %(prog)s ms2torch r26.ckpt r26.pth --model acmix_resnet26 --report r26.json"""


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser(model_names: List[str]) -> argparse.ArgumentParser:
    """The parser; ``--model`` is checked by the library (``model_info``), its names listed."""
    parser = _OneLineParser(prog="acmix-convert", description=DESCRIPTION, epilog=EPILOG,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("direction", choices=("torch2ms", "ms2torch"))
    parser.add_argument("src", metavar="SRC", help="checkpoint to read")
    parser.add_argument("dst", metavar="DST", help="checkpoint to write (format from extension)")
    parser.add_argument("--model", required=True, metavar="NAME",
                        help=f"registered model: {', '.join(model_names)}")
    parser.add_argument("--model-kwargs", default="{}", metavar="JSON",
                        help="keyword arguments of create_model, as a JSON object, e.g. "
                             "'{\"num_classes\": 10, \"img_size\": 384}' (default: the registry's)")
    parser.add_argument("--ema", action="store_true",
                        help="take the EMA copy of the weights (default: the plain weights; the "
                             "report says which was taken and whether an EMA copy exists)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing DST")
    parser.add_argument("--verify", action="store_true",
                        help="run both models on a fixed input and print the largest logit "
                             "difference; DST is written only if it is within the float32 forward "
                             f"bound of the tolerance policy (acmix_common/tolerance.py: "
                             f"{_VERIFY.atol:g} + {_VERIFY.rtol:g} * max |logit|) and top-1 agrees")
    parser.add_argument("--report", metavar="FILE.json", help="also write the report as JSON")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="print the summary without the per-entry table")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Run the converter; returns the exit code."""
    os.environ.setdefault("GLOG_v", "3")  # MindSpore's C++ logging: errors only
    from ckpt_convert.errors import CheckpointError
    from ckpt_convert.pipeline import Options, convert
    from ckpt_convert.report import format_table, summary_lines, write_json

    parser = build_parser(list_models())
    args = parser.parse_args(argv)
    try:
        kwargs = json.loads(args.model_kwargs)
    except json.JSONDecodeError as exc:
        parser.error(f"--model-kwargs={args.model_kwargs!r} is not JSON: {exc}")
    if not isinstance(kwargs, dict):
        parser.error(f"--model-kwargs={args.model_kwargs!r} is not a JSON object")
    opt = Options(args.direction, args.src, args.dst, args.model, kwargs, force=args.force,
                  ema=args.ema, verify=args.verify)
    try:
        report = convert(opt)
    except CheckpointError as exc:
        if args.report and exc.report is not None:
            write_json({**exc.report, "error": str(exc)}, args.report)
        print(f"{parser.prog}: error: {in_flags(str(exc), FLAGS)}", file=sys.stderr)
        return exc.exit_code
    if not args.quiet:
        print(format_table(report["entries"]))
    for line in summary_lines(report):
        print(in_flags(line, FLAGS))
    if args.report:
        write_json(report, args.report)
    print(f"wrote {args.dst} ({report['dst_format']}, {len(report['entries'])} entries, "
          f"{report['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
