"""Gradients with respect to the input and every parameter, paired by the name map."""
from hypothesis import example, given

from parity.budget import examples
from parity.checks import check_gradients
from parity.fixed_configs import SWIN_BLOCK_REGRESSIONS
from parity.strategies import acmix_configs, model_configs, swin_block_configs


@examples(15)
@given(acmix_configs())
def test_acmix_module(config):
    check_gradients(config)


@examples(8)
@given(swin_block_configs())
@example(SWIN_BLOCK_REGRESSIONS[0])
@example(SWIN_BLOCK_REGRESSIONS[1])
def test_swin_block(config):
    check_gradients(config)


@examples(5)
@given(model_configs())
def test_whole_models(config):
    check_gradients(config)
