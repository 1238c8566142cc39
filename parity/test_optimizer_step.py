"""The training script's optimisers, built from the recipe config files (ResNet: SGD with
momentum and weight decay on everything; Swin: AdamW without decay for 1-D parameters, biases
and relative_position_bias_table), put the same parameters in the same weight-decay groups as
the official rules and take the same steps as torch.optim built from those rules."""
import pytest
from hypothesis import given

from parity.budget import examples
from parity.check_optimizer import check_optimizer_steps
from parity.strategies import model_configs


@pytest.mark.parametrize("recipe", ["resnet", "swin"])
@examples(3)
@given(config=model_configs())
def test_two_steps_give_the_same_parameters(recipe, config):
    check_optimizer_steps(config, recipe)
