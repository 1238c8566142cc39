"""The two ONNX witnesses of a twin pair: each framework's model exported and run in onnxruntime."""
from typing import Dict

import numpy as np

from model_export.api import DEFAULT_OPSET
from model_export.onnx_check import check_structure, run
from model_export.onnx_ms import export_ms_onnx
from model_export.onnx_torch import export_torch_onnx
from ms_acmix.models.exportable import use_exportable_ops


def onnx_outputs(t_model, m_model, x: np.ndarray, opset: int = DEFAULT_OPSET
                 ) -> Dict[str, np.ndarray]:
    """{'torch ONNX': ..., 'MindSpore ONNX': ...} on ``x``; each file passes the checker first."""
    chw = x.shape[1:]
    torch_proto = export_torch_onnx(t_model, chw, opset)
    try:
        ms_proto = export_ms_onnx(use_exportable_ops(m_model), chw, opset)
    finally:
        use_exportable_ops(m_model, False)
    outputs = {}
    for name, proto in (("torch ONNX", torch_proto), ("MindSpore ONNX", ms_proto)):
        check_structure(proto, opset)
        outputs[name] = run(proto, x).astype(np.float64)
    return outputs
