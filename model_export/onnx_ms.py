"""MindSpore -> ONNX: the exportable formulations on, two traced batches, one batch-generic file."""
import os
import re
import tempfile
from typing import Sequence

import numpy as np
import onnx
from onnx import version_converter

from .errors import ExportError
from .onnx_batch import make_batch_generic

TRACE_BATCHES = (2, 3)
MS_NATIVE_OPSET = 11  # what MindSpore 2.10's exporter writes; converted to the requested opset
_NO_CONVERTER = re.compile(r"Can not find key (\w+) in convert map")


def _export_once(model, input_chw: Sequence[int], batch: int, path: str) -> onnx.ModelProto:
    import mindspore as ms
    x = ms.Tensor(np.zeros((batch, *input_chw), np.float32))
    try:
        ms.onnx.export(model, x, file_name=path, input_names=["input"], output_names=["output"])
    except RuntimeError as exc:
        found = _NO_CONVERTER.search(str(exc))
        if found:
            raise ExportError(f"MindSpore {ms.__version__} cannot export op {found.group(1)} to "
                              f"ONNX (its exporter has no converter for it)") from None
        raise
    return onnx.load(path)


def export_ms_onnx(model, input_chw: Sequence[int], opset: int) -> onnx.ModelProto:
    """Trace ``model`` (a MindSpore Cell in eval mode) and return a batch-generic ONNX model.

    The caller switches on the exportable formulations (``ms_acmix.models.exportable``) first.
    """
    import mindspore as ms
    previous = ms.get_context("mode")
    ms.set_context(mode=ms.GRAPH_MODE)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            first, second = (_export_once(model, input_chw, b, os.path.join(tmp, f"b{b}.onnx"))
                             for b in TRACE_BATCHES)
    finally:
        ms.set_context(mode=previous)
    generic = make_batch_generic(first, second, *TRACE_BATCHES)
    if opset != MS_NATIVE_OPSET:
        try:
            generic = version_converter.convert_version(generic, opset)
        except Exception as exc:  # the converter raises bare RuntimeErrors from C++
            raise ExportError(f"opset={opset}: converting MindSpore's opset-"
                              f"{MS_NATIVE_OPSET} graph failed: {str(exc).splitlines()[0]}"
                              ) from None
    return generic
