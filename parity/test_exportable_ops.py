"""MindSpore's ONNX-exportable formulations (exact GELU from an erf polynomial, gather padding,
one-hot unfold, edge-padded max pool) against PyTorch float64, like any other implementation."""
from hypothesis import given

from parity.budget import examples
from parity.checks import check_forward
from parity.strategies import acmix_configs, model_configs, swin_block_configs


@examples(10)
@given(acmix_configs())
def test_acmix_module(config):
    check_forward(config, exportable_ops=True)


@examples(5)
@given(swin_block_configs())
def test_swin_block(config):
    check_forward(config, exportable_ops=True)


@examples(4)
@given(model_configs())
def test_whole_models(config):
    check_forward(config, exportable_ops=True)


@examples(3)
@given(model_configs())
def test_whole_models_graph_mode(config):
    check_forward(config, graph=True, exportable_ops=True)
