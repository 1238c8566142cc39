"""Export of the registered models: ONNX from either framework, MINDIR from MindSpore."""
from .api import DEFAULT_OPSET, export_model, to_onnx
from .errors import ExportError

__all__ = ["DEFAULT_OPSET", "ExportError", "export_model", "to_onnx"]
