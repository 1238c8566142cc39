"""timm RandomErasing, 'pixel' mode, after normalisation: the same box and values."""
from hypothesis import example, given

from parity.budget import examples
from parity.preprocess_checks import check_random_erasing
from parity.strategies import ErasingConfig, erasing_configs


@examples(20)
@given(erasing_configs)
@example(ErasingConfig(0.25, 3, 64, 64, seed=0))   # the recipe's probability
@example(ErasingConfig(1.0, 3, 40, 56, seed=4))    # a box erased
# A 2-pixel-high image: most boxes do not fit. Seed 3 fits at the third attempt, seed 0 never
# in ten (no erasing, and the values are not drawn).
@example(ErasingConfig(1.0, 3, 2, 64, seed=3))
@example(ErasingConfig(1.0, 1, 2, 64, seed=0))
def test_random_erasing(config):
    check_random_erasing(config)
