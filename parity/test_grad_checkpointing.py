"""Gradient checkpointing (``set_grad_checkpointing``) changes memory, not numbers: MindSpore with
it on against the float64 PyTorch reference (train mode, gradients and running statistics), in
PYNATIVE and GRAPH; PyTorch with it on against off, drop path drawn."""
from hypothesis import given

from parity.budget import examples
from parity.check_checkpointing import check_checkpointed_gradients, check_torch_checkpointing
from parity.strategies import drop_path_configs, model_configs


@examples(3)
@given(model_configs())
def test_mindspore_checkpointed_gradients(config):
    check_checkpointed_gradients(config)


@examples(2)
@given(model_configs())
def test_mindspore_checkpointed_gradients_graph(config):
    check_checkpointed_gradients(config, graph=True)


@examples(4)
@given(drop_path_configs())
def test_torch_checkpointing_on_against_off(config):
    check_torch_checkpointing(config)
