"""torch_ref.ACmix's fast path is traced for export as the official (unfold) formulation."""
import torch

import torch_ref


def test_export_traces_the_unfold_formulation():
    torch.manual_seed(0)
    fast = torch_ref.ACmix(4, 6, 3, 2, stride=2).eval()
    unfold = torch_ref.ACmix(4, 6, 3, 2, stride=2, attn_impl="unfold").eval()
    unfold.load_state_dict(fast.state_dict())
    x = torch.randn(2, 4, 9, 8)
    program = torch.export.export(fast, (x,))
    targets = {str(node.target) for node in program.graph.nodes if node.op == "call_function"}
    assert "aten.im2col.default" in targets  # F.unfold: no offset loop in the graph
    with torch.no_grad():
        assert torch.equal(program.module()(x), unfold(x))
