"""PyTorch -> ONNX through torch.onnx's dynamo exporter, batch dimension dynamic."""
from typing import Sequence

import numpy as np
import onnx

from .errors import ExportError


def export_torch_onnx(model, input_chw: Sequence[int], opset: int) -> onnx.ModelProto:
    """Trace ``model`` (eval mode, float32) and return the ONNX model with a symbolic batch."""
    import torch
    x = torch.from_numpy(np.zeros((2, *input_chw), np.float32))
    batch = torch.export.Dim("batch", min=1, max=4096)
    try:
        with torch.no_grad():
            program = torch.onnx.export(model, (x,), input_names=["input"],
                                        output_names=["output"], opset_version=opset,
                                        dynamo=True, dynamic_shapes=({0: batch},),
                                        optimize=True, verbose=False)
    except Exception as exc:  # torch.onnx wraps every failure in its own error classes
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExportError(f"torch.onnx could not export the model: {first}") from None
    return program.model_proto
