"""Each timm RandAugment operation (plain and 'Increasing') at any magnitude and either sign:
timm's level-to-argument mapping and its PIL application."""
from hypothesis import example, given

from parity.budget import examples
from parity.preprocess_checks import check_rand_augment_op
from parity.strategies import RandAugmentOpConfig, rand_augment_op_configs


@examples(30)
@given(rand_augment_op_configs())
@example(RandAugmentOpConfig("PosterizeIncreasing", 10.0, 0.25, "china", 24, "bicubic"))  # 0 bits
def test_rand_augment_operation(config):
    check_rand_augment_op(config)
