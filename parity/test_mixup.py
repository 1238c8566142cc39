"""timm Mixup in batch mode: mixup or cutmix (switch probability, lambda correction of the
clipped box), label smoothing; the same images and soft targets."""
from hypothesis import given

from parity.budget import examples
from parity.preprocess_checks import check_mixup
from parity.strategies import mixup_configs


@examples(20)
@given(mixup_configs())
def test_mixup(config):
    check_mixup(config)
