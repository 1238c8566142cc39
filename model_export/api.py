"""One export, start to end: check the request, export, check the file, then write it."""
import time
from typing import Any, Dict, Sequence

import numpy as np

from .errors import ExportError

FORMATS = ("onnx", "mindir")
DEFAULT_OPSET = 18
MIN_OPSET = 13  # the oldest opset with Softmax over one axis and ReduceSum's axes as input


def check_request(framework: str, fmt: str, output: str, opset: int) -> None:
    """Reject what cannot be exported before building anything (errors name the parameter)."""
    if fmt not in FORMATS:
        raise ExportError(f"fmt={fmt!r}: choose one of {', '.join(FORMATS)}")
    if fmt == "mindir" and framework != "ms":
        raise ExportError(f"framework={framework!r} fmt='mindir': MINDIR is MindSpore's graph "
                          "format; export the MindSpore model (framework='ms') or use "
                          "fmt='onnx'")
    suffix = "." + fmt
    if not output.endswith(suffix):
        raise ExportError(f"output={output!r} must end with {suffix}")
    if fmt != "onnx":
        return
    try:
        import onnx
    except ImportError:
        raise ExportError("fmt='onnx' needs the onnx extra: pip install 'ms-acmix[onnx]'") from None
    newest = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= opset <= newest:
        raise ExportError(f"opset={opset}: supported opsets are {MIN_OPSET} to {newest}")


def _reference(model, framework: str):
    """The framework model's own float32 output, native kernels (what users run)."""
    if framework == "ms":
        from mindspore import Tensor

        from ms_acmix.models.exportable import use_exportable_ops

        def run(x: np.ndarray) -> np.ndarray:
            use_exportable_ops(model, False)
            return model(Tensor(x)).asnumpy()
        return run

    import torch

    def run_torch(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.from_numpy(x)).numpy()
    return run_torch


def to_onnx(model, framework: str, input_chw: Sequence[int], opset: int):
    """The checked, batch-generic ONNX model of ``model`` (not yet written)."""
    from .onnx_check import check_outputs, check_structure
    if framework == "ms":
        from ms_acmix.models.exportable import use_exportable_ops

        from .onnx_ms import export_ms_onnx
        try:
            proto = export_ms_onnx(use_exportable_ops(model), input_chw, opset)
        finally:
            use_exportable_ops(model, False)
    else:
        from .onnx_torch import export_torch_onnx
        proto = export_torch_onnx(model, input_chw, opset)
    check_structure(proto, opset)
    diffs = check_outputs(proto, _reference(model, framework), input_chw)
    return proto, diffs


def export_model(model, framework: str, input_chw: Sequence[int], fmt: str, output: str,
                 opset: int = DEFAULT_OPSET, batch: int = 1) -> Dict[str, Any]:
    """Export ``model`` (eval mode) to ``output``; returns what was checked."""
    start = time.perf_counter()
    check_request(framework, fmt, output, opset)
    report: Dict[str, Any] = {"framework": framework, "format": fmt, "output": output,
                              "input": ["batch", *input_chw]}
    if fmt == "onnx":
        from .onnx_check import opset_of, save
        proto, diffs = to_onnx(model, framework, input_chw, opset)
        save(proto, output)
        report.update(opset=opset_of(proto), max_abs_diff_by_batch=diffs)
    else:
        from .mindir import export_mindir
        if batch < 1:
            raise ExportError(f"batch={batch} must be >= 1")
        x = np.random.default_rng(0).standard_normal((batch, *input_chw)).astype(np.float32)
        report.update(input=[batch, *input_chw], max_abs_diff=export_mindir(model, x, output))
    report["seconds"] = round(time.perf_counter() - start, 2)
    return report
