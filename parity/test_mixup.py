"""timm Mixup in batch mode: mixup or cutmix (switch probability, lambda correction of the
clipped box), label smoothing; the same images and soft targets."""
from hypothesis import example, given

from parity.budget import examples
from parity.preprocess_checks import check_mixup
from parity.strategies import MixupConfig, mixup_configs


@examples(20)
@given(mixup_configs())
@example(MixupConfig(4, 10, 8, 8, 0.8, 1.0, 1.0, 0.5, 0.1, seed=0))  # the Swin recipe
@example(MixupConfig(4, 5, 8, 8, 0.8, 0.0, 0.5, 0.5, 0.0, seed=3))   # mixup only, no smoothing
# cutmix alone with a Beta(0.01, 0.01) lambda of exactly 1 (this seed): timm mixes nothing
@example(MixupConfig(4, 5, 8, 8, 0.0, 0.01, 1.0, 0.5, 0.1, seed=0))
def test_mixup(config):
    check_mixup(config)
