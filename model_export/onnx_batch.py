"""Make a fixed-batch ONNX graph batch-generic, proven by a second export.

MindSpore 2.10 exports ONNX with every shape folded to constants (``dynamic_axes`` only renames
the input's dimension). The model is therefore exported at two batch sizes; the two graphs must
match node for node, and every constant that differs must be a Reshape target whose one
batch-carrying entry scales with the batch. That entry becomes -1. Anything else that differs is
an error naming the node, not a guess.
"""
from typing import Dict, List, Optional, Tuple

import numpy as np
import onnx
from onnx import numpy_helper

from .errors import ExportError

BATCH = "batch"


def _consumers(graph: onnx.GraphProto) -> Dict[str, List[tuple]]:
    uses: Dict[str, List[tuple]] = {}
    for node in graph.node:
        for slot, name in enumerate(node.input):
            uses.setdefault(name, []).append((node, slot))
    return uses


def _static_shapes(model: onnx.ModelProto) -> Dict[str, List[int]]:
    """Every tensor's shape in a fixed-batch graph (None where inference leaves it open)."""
    inferred = onnx.shape_inference.infer_shapes(model)
    shapes = {}
    for value in (*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output):
        dims = value.type.tensor_type.shape.dim
        shapes[value.name] = [d.dim_value if d.HasField("dim_value") else None for d in dims]
    return shapes


def _resolve_inferred(target: np.ndarray, data_shape: Optional[List[int]]) -> np.ndarray:
    """A Reshape target with its -1 replaced by the size it stands for, when that is known."""
    if -1 not in target or not data_shape or None in data_shape:
        return target
    known = int(np.prod([d for d in target if d != -1]))
    resolved = target.copy()
    resolved[target == -1] = int(np.prod(data_shape)) // known
    return resolved


def _batch_entry(a: np.ndarray, b: np.ndarray, batch_a: int, batch_b: int) -> Optional[int]:
    """The one index where a Reshape target differs by the batch ratio, else None."""
    if a.shape != b.shape or a.ndim != 1 or a.dtype.kind != "i" or -1 in a:
        return None
    where = np.flatnonzero(a != b)
    if len(where) != 1:
        return None
    i = int(where[0])
    per_item_a, rem_a = divmod(int(a[i]), batch_a)
    per_item_b, rem_b = divmod(int(b[i]), batch_b)
    return i if rem_a == rem_b == 0 and per_item_a == per_item_b > 0 else None


def _generalise(value: np.ndarray, other: np.ndarray, batch_a: int, batch_b: int, where: str,
                uses: List[tuple], shapes: Tuple[dict, dict]) -> np.ndarray:
    if not uses or any(node.op_type != "Reshape" or slot != 1 for node, slot in uses):
        users = ", ".join(f"{node.op_type} {node.name}" for node, _ in uses) or "nothing"
        raise ExportError(f"{where} depends on the batch size and feeds {users}, not only "
                          f"Reshape targets: the graph cannot be made batch-generic")
    data = uses[0][0].input[0]
    value = _resolve_inferred(value, shapes[0].get(data))
    other = _resolve_inferred(other, shapes[1].get(data))
    i = _batch_entry(value, other, batch_a, batch_b)
    if i is None:
        raise ExportError(f"{where} is a Reshape target {value.tolist()} (batch {batch_a}) vs "
                          f"{other.tolist()} (batch {batch_b}): no single entry scales with the "
                          f"batch")
    out = value.copy()
    out[i] = -1
    return out


def make_batch_generic(model: onnx.ModelProto, other: onnx.ModelProto, batch: int,
                       other_batch: int) -> onnx.ModelProto:
    """``model`` (exported at ``batch``) with a symbolic batch, checked against ``other``."""
    g, h = model.graph, other.graph
    if [n.op_type for n in g.node] != [n.op_type for n in h.node]:
        raise ExportError("the exported graph's structure changes with the batch size")
    uses = _consumers(g)
    shapes = (_static_shapes(model), _static_shapes(other))
    for node, twin in zip(g.node, h.node):
        if node.attribute == twin.attribute:
            continue
        if node.op_type != "Constant":
            raise ExportError(f"node {node.name} ({node.op_type}) has attributes that depend on "
                              f"the batch size")
        value = numpy_helper.to_array(node.attribute[0].t)
        new = _generalise(value, numpy_helper.to_array(twin.attribute[0].t), batch, other_batch,
                          f"constant {node.name}", uses.get(node.output[0], []), shapes)
        node.attribute[0].t.CopyFrom(numpy_helper.from_array(new, node.attribute[0].t.name))
    twins = {init.name: init for init in h.initializer}
    for init in g.initializer:
        twin = twins.get(init.name)
        if twin is None:
            raise ExportError(f"initializer {init.name} exists only at batch {batch}")
        value, other_value = numpy_helper.to_array(init), numpy_helper.to_array(twin)
        if value.shape == other_value.shape and np.array_equal(value, other_value):
            continue
        new = _generalise(value, other_value, batch, other_batch, f"initializer {init.name}",
                          uses.get(init.name, []), shapes)
        init.CopyFrom(numpy_helper.from_array(new, init.name))
    for value_info in list(g.input) + list(g.output):
        dim = value_info.type.tensor_type.shape.dim[0]
        dim.Clear()
        dim.dim_param = BATCH
    del g.value_info[:]  # intermediate shapes were recorded at the traced batch
    return model
