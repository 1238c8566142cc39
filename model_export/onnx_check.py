"""What every exported ONNX file must pass: the full checker, the stated opset, a symbolic batch,
and onnxruntime (CPU) reproducing the framework's outputs at batch sizes it was not traced at."""
import os
from typing import Callable, Dict, Sequence

import numpy as np
import onnx

from acmix_common.tolerance import compare

from .errors import ExportError

CHECK_BATCHES = (1, 5)  # neither is a traced batch size (2 and 3)


def opset_of(model: onnx.ModelProto) -> int:
    return next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))


def check_structure(model: onnx.ModelProto, opset: int) -> None:
    """onnx.checker (full_check), the default-domain opset, one input and a symbolic batch."""
    try:
        onnx.checker.check_model(model, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise ExportError(f"onnx.checker rejects the exported graph: "
                          f"{str(exc).splitlines()[0]}") from None
    if opset_of(model) != opset:
        raise ExportError(f"the exported graph states opset {opset_of(model)}, not "
                          f"opset={opset}")
    for value in (*model.graph.input, *model.graph.output):
        dim = value.type.tensor_type.shape.dim[0]
        if not dim.dim_param:
            raise ExportError(f"{value.name!r} has a fixed batch dimension "
                              f"({dim.dim_value}), not a symbolic one")


def session(model: onnx.ModelProto):
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), options,
                                providers=["CPUExecutionProvider"])


def run(model_or_session, x: np.ndarray) -> np.ndarray:
    sess = model_or_session if hasattr(model_or_session, "run") else session(model_or_session)
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


def check_outputs(model: onnx.ModelProto, reference: Callable[[np.ndarray], np.ndarray],
                  input_chw: Sequence[int], seed: int = 0) -> Dict[int, float]:
    """onnxruntime against ``reference`` (the framework model) at CHECK_BATCHES, float32 policy.

    Returns batch -> max |difference|.
    """
    sess = session(model)
    rng = np.random.default_rng(seed)
    diffs = {}
    for batch in CHECK_BATCHES:
        x = rng.standard_normal((batch, *input_chw)).astype(np.float32)
        got, want = run(sess, x), reference(x)
        if got.shape != want.shape:
            raise ExportError(f"onnxruntime's output at batch {batch} has shape {got.shape}, "
                              f"the model's {want.shape}")
        result = compare(got, want, "float32", "forward")
        if not result.ok:
            raise ExportError(f"onnxruntime's output at batch {batch} differs from the model's: "
                              f"{result}")
        diffs[batch] = result.max_abs
    return diffs


def save(model: onnx.ModelProto, path: str) -> None:
    """Write ``path`` whole or not at all."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f".tmp-{os.getpid()}-{os.path.basename(path)}")
    try:
        onnx.save(model, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
