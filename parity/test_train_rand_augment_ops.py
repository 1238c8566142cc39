"""Each timm RandAugment operation (plain and 'Increasing') at any magnitude and either sign:
timm's level-to-argument mapping and its PIL application."""
import pytest
from hypothesis import example, given

from parity.budget import examples
from parity.photos import PHOTOS
from parity.preprocess_checks import check_rand_augment_op
from parity.reference_rand_augment import LEVEL_TO_ARG
from parity.strategies import INTERPOLATIONS, RandAugmentOpConfig, rand_augment_op_configs


@examples(30)
@given(rand_augment_op_configs())
@example(RandAugmentOpConfig("PosterizeIncreasing", 10.0, 0.25, "china", 24, "bicubic"))  # 0 bits
def test_rand_augment_operation(config):
    check_rand_augment_op(config)


@pytest.mark.parametrize("index,op", enumerate(sorted(LEVEL_TO_ARG)), ids=lambda v: str(v))
def test_every_operation_at_a_fixed_magnitude(index, op):
    """Every operation of both lists (plain ones are what a spec without 'inc1' draws), at
    magnitude 7 (the recipe's 9 is drawn around), signs, photos and filters taken in turn."""
    check_rand_augment_op(RandAugmentOpConfig(op, 7.0, (0.25, 0.75)[index % 2],
                                              PHOTOS[index % len(PHOTOS)], 24,
                                              INTERPOLATIONS[index // 2 % 2]))
