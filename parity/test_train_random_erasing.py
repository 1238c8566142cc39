"""timm RandomErasing, 'pixel' mode, after normalisation: the same box and values."""
from hypothesis import given

from parity.budget import examples
from parity.preprocess_checks import check_random_erasing
from parity.strategies import erasing_configs


@examples(20)
@given(erasing_configs)
def test_random_erasing(config):
    check_random_erasing(config)
