"""MindSpore GRAPH mode (ms.jit): the same checks; each new shape compiles, so fewer examples."""
from hypothesis import given

from parity.budget import examples
from parity.checks import check_forward, check_gradients
from parity.strategies import acmix_configs, model_configs


@examples(4)
@given(acmix_configs())
def test_acmix_module_forward_and_gradients(config):
    check_forward(config, graph=True)
    check_gradients(config, graph=True)


@examples(3)
@given(model_configs())
def test_whole_models_forward(config):
    check_forward(config, graph=True)
