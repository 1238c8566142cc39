"""Train mode: batch-statistics outputs and running statistics after one forward (BatchNorm
momentum translated); Swin's dropout and drop path are drawn at 0."""
from hypothesis import given

from parity.budget import examples
from parity.checks import check_train_forward
from parity.strategies import model_configs


@examples(6)
@given(model_configs())
def test_train_forward_and_running_statistics(config):
    check_train_forward(config)
