"""timm Mixup in batch mode: mixup or cutmix (switch probability, lambda correction of the
clipped box), label smoothing; the same images and soft targets."""
import numpy as np
from hypothesis import example, given

from ms_acmix.train.mixup import cutmix_box
from parity import reference_mixup as R_mix
from parity.budget import examples
from parity.preprocess_checks import check_mixup
from parity.strategies import MixupConfig, mixup_configs


@examples(20)
@given(mixup_configs())
@example(MixupConfig(4, 5, 16, 12, 0.0, 1.0, 1.0, 0.5, 0.1, seed=3))  # cutmix alone, always on
@example(MixupConfig(4, 10, 8, 8, 0.8, 1.0, 1.0, 0.5, 0.1, seed=0))  # the Swin recipe
@example(MixupConfig(4, 5, 8, 8, 0.8, 0.0, 0.5, 0.5, 0.0, seed=3))   # mixup only, no smoothing
# cutmix alone with a Beta(0.01, 0.01) lambda of exactly 1 (this seed): timm mixes nothing
@example(MixupConfig(4, 5, 8, 8, 0.0, 0.01, 1.0, 0.5, 0.1, seed=0))
def test_mixup(config):
    check_mixup(config)


def test_cutmix_box_is_timms_rand_bbox():
    """The cutmix box over a grid of sizes (one pixel, odd, even), lambdas and seeds equals
    timm's rand_bbox (parity.reference_mixup): the edges and odd sides the drawn configurations
    reach only by chance."""
    for h, w in [(1, 7), (2, 9), (7, 1), (9, 16), (15, 15), (24, 5)]:
        for lam in (0.05, 0.3, 0.61, 0.97):
            for seed in range(5):
                got = cutmix_box(h, w, lam, np.random.RandomState(seed))
                want = R_mix.rand_bbox((h, w), lam, np.random.RandomState(seed))
                assert got == tuple(int(v) for v in want), (h, w, lam, seed)
