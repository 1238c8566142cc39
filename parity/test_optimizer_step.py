"""The training script's optimisers (SGD with momentum and weight decay; AdamW with the Swin
recipe's decay exclusions) take the same steps as torch.optim."""
import pytest
from hypothesis import given

from parity.budget import examples
from parity.checks import check_optimizer_steps
from parity.strategies import model_configs


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
@examples(3)
@given(config=model_configs())
def test_two_steps_give_the_same_parameters(optimizer, config):
    check_optimizer_steps(config, optimizer)
