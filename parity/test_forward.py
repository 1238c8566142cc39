"""Forward outputs: MindSpore float32 against PyTorch float64 (PYNATIVE)."""
from hypothesis import given

from parity.budget import examples
from parity.checks import check_forward
from parity.strategies import acmix_configs, model_configs, swin_block_configs


@examples(30)
@given(acmix_configs())
def test_acmix_module(config):
    check_forward(config)


@examples(15)
@given(swin_block_configs())
def test_swin_block(config):
    check_forward(config)


@examples(8)
@given(model_configs())
def test_whole_models(config):
    check_forward(config)
