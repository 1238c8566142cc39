"""model_export.onnx_batch on hand-built graphs: what it generalises and what it refuses."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from model_export.errors import ExportError
from model_export.onnx_batch import make_batch_generic
from model_export.onnx_check import run


def _graph(batch: int, target, extra_add: bool = False) -> onnx.ModelProto:
    """input (batch, 6) -> Reshape(target) [-> + a batch-shaped constant] -> output."""
    shape = helper.make_node("Constant", [], ["shape"], name="shape_const",
                             value=numpy_helper.from_array(np.array(target, np.int64)))
    nodes = [shape, helper.make_node("Reshape", ["input", "shape"], ["r"], name="reshape")]
    out = "r"
    if extra_add:
        ones = np.ones((batch, 2, 3), np.float32)
        nodes += [helper.make_node("Constant", [], ["ones"], name="ones_like",
                                   value=numpy_helper.from_array(ones)),
                  helper.make_node("Add", ["r", "ones"], ["s"], name="add")]
        out = "s"
    nodes.append(helper.make_node("Identity", [out], ["output"], name="out"))
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, 6])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [batch, 2, 3])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


@pytest.mark.parametrize("target", [lambda b: [b, 2, 3], lambda b: [b, -1, 3]])
def test_batch_entry_becomes_minus_one_and_runs_at_other_batches(target):
    model = make_batch_generic(_graph(2, target(2)), _graph(3, target(3)), 2, 3)
    onnx.checker.check_model(model, full_check=True)
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    for batch in (1, 5):
        x = np.arange(batch * 6, dtype=np.float32).reshape(batch, 6)
        np.testing.assert_array_equal(run(model, x).reshape(batch, 6), x)


def test_a_batch_shaped_constant_outside_reshape_is_refused():
    with pytest.raises(ExportError, match=r"constant ones_like depends on the batch size and "
                                          r"feeds Add add"):
        make_batch_generic(_graph(2, [2, 2, 3], True), _graph(3, [3, 2, 3], True), 2, 3)


def test_a_target_that_does_not_scale_with_the_batch_is_refused():
    with pytest.raises(ExportError, match=r"no single entry scales with the batch"):
        make_batch_generic(_graph(2, [2, 2, 3]), _graph(3, [3, 1, 6]), 2, 3)


def test_a_structure_that_changes_with_the_batch_is_refused():
    with pytest.raises(ExportError, match="structure changes with the batch size"):
        make_batch_generic(_graph(2, [2, 2, 3]), _graph(3, [3, 2, 3], True), 2, 3)
