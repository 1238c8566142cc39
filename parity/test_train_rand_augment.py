"""timm RandAugment ('rand-m9-mstd0.5-inc1' and its neighbours): the same operations, skips,
noisy magnitudes and signs from the same generators, and the same image."""
from hypothesis import given

from parity.budget import examples
from parity.preprocess_checks import check_rand_augment
from parity.strategies import rand_augment_configs


@examples(15)
@given(rand_augment_configs())
def test_rand_augment(config):
    check_rand_augment(config)
