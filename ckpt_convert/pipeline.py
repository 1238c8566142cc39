"""One conversion, start to end: read, unwrap, plan against the target model, write, check.

Errors name the ``Options`` field they are about (``src='w.pth' does not exist``,
``model_kwargs={...}``); the command line turns those into its own words.
"""
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Dict

from acmix_common.variants import model_info

from . import formats
from .errors import CheckpointError, VerifyError
from .models import create_model, ms_target, torch_target
from .plan import make_plan, naming_hint
from .unwrap import SourceWeights, unwrap_file
from .verify import check_written, load_into, logit_agreement, logits, verify_input

FRAMEWORKS = {"torch2ms": ("torch", "mindspore"), "ms2torch": ("mindspore", "torch")}
FORMAT_WORDS = {formats.TORCH: "a PyTorch pickle", formats.SAFETENSORS: "a safetensors file",
                formats.MS_CKPT: "a MindSpore .ckpt"}


@dataclass
class Options:
    direction: str  # 'torch2ms' or 'ms2torch'
    src: str
    dst: str
    model: str
    model_kwargs: Dict[str, Any] = field(default_factory=dict)
    force: bool = False
    ema: bool = False
    verify: bool = False


def _src(opt: Options) -> str:
    return f"src={opt.src!r}"


def read_source(opt: Options) -> SourceWeights:
    """Sniff, read and unwrap ``src`` into named numpy arrays."""
    where = _src(opt)
    fmt = formats.sniff_format(opt.src, where)
    if fmt not in formats.SRC_FORMATS[opt.direction]:
        other = "ms2torch" if opt.direction == "torch2ms" else "torch2ms"
        raise CheckpointError(f"{where} is {FORMAT_WORDS[fmt]}, which {opt.direction} does "
                              f"not read: did you mean {other}?")
    obj, metadata = formats.read_file(opt.src, fmt, where)
    return unwrap_file(where, fmt, FRAMEWORKS[opt.direction][0], obj, metadata, opt.ema)


def _base_report(opt: Options, source: SourceWeights, plan) -> Dict[str, Any]:
    counts = Counter(row.action.split(":")[0].split(";")[0] for row in plan.rows)
    return {"direction": opt.direction, "src": opt.src, "dst": opt.dst, "model": opt.model,
            "model_kwargs": opt.model_kwargs, "taken": source.taken, "notes": source.notes,
            "counts": dict(counts), "entries": [row.as_dict() for row in plan.rows],
            "problems": {"missing": plan.missing, "unexpected": plan.unexpected,
                         "shape_clashes": plan.clashes, "dtype_clashes": plan.dtype_clashes,
                         "rebuilt_mismatches": plan.mismatches}}


def convert(opt: Options) -> Dict[str, Any]:
    """Convert ``src`` to ``dst``; returns the report. Raises CheckpointError / VerifyError."""
    start = time.perf_counter()
    try:
        model_info(opt.model)  # the one name check, before any file is read
    except ValueError as exc:
        raise CheckpointError(str(exc)) from None
    src_framework, dst_framework = FRAMEWORKS[opt.direction]
    dst_fmt = formats.dst_format(opt.direction, opt.dst)
    source = read_source(opt)
    formats.check_dst(opt.dst, opt.src, opt.force)
    model = create_model(dst_framework, opt.model, opt.model_kwargs)
    target = ms_target(model) if dst_framework == "mindspore" else torch_target(model)
    plan = make_plan(source, src_framework, target)
    report = _base_report(opt, source, plan)
    problems = plan.problems()
    if problems:
        kwargs = f" model_kwargs={opt.model_kwargs}" if opt.model_kwargs else ""
        raise CheckpointError(f"{_src(opt)} does not fit model={opt.model!r}{kwargs}: "
                              + "; ".join(problems) + naming_hint(source, src_framework), report)
    try:
        with formats.staged_file(opt.dst) as tmp:
            formats.write_file(plan.arrays, tmp, dst_fmt, dst_framework)
            entries = check_written(tmp, dst_fmt, plan.arrays)
            load_into(model, dst_framework, entries)
            if opt.verify:
                report["verify"] = _verify(opt, source, model, src_framework, dst_framework)
                _raise_if_failed(report)
    except OSError as exc:  # disk full, permission denied...: dst untouched, temporary removed
        raise CheckpointError(f"dst={opt.dst!r}: cannot write: {exc}", report) from None
    report["dst_format"] = dst_fmt
    report["seconds"] = round(time.perf_counter() - start, 2)
    return report


def _raise_if_failed(report: Dict[str, Any]) -> None:
    v = report["verify"]
    if not v["passed"]:
        raise VerifyError(f"verify=True failed: max |logit difference| {v['max_abs_diff']:.3g} "
                          f"(bound {v['bound']:.3g}, the float32 forward tolerance policy) is "
                          f"{v['relative_diff']:.3g} of the largest |logit|; top-1 agrees on "
                          f"{v['top1_agree']}; nothing written to dst={report['dst']!r}", report)


def _verify(opt: Options, source: SourceWeights, target_model, src_framework: str,
            dst_framework: str) -> Dict[str, Any]:
    """Run the source model (source weights) and the target model (written file) on one input."""
    source_model = create_model(src_framework, opt.model, opt.model_kwargs)
    load_into(source_model, src_framework, source.arrays, strict_names=False)
    x = verify_input(opt.model, opt.model_kwargs)
    summary = logit_agreement(logits(source_model, src_framework, x),
                              logits(target_model, dst_framework, x))
    summary["input_shape"] = list(x.shape)
    return summary
