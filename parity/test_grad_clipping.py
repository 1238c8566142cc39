"""The training step's clipped gradients equal torch's clip_grad_norm_ over all parameters (one
total norm) applied to the same gradients."""
from hypothesis import example, given

from parity.budget import examples
from parity.check_clipping import check_clipping
from parity.fixed_configs import RESNET
from parity.strategies import ClipCase, clip_cases


@examples(3)
@given(clip_cases())
@example(ClipCase(RESNET, 0.25))
def test_clipped_gradients_match_torch(case):
    check_clipping(case)
