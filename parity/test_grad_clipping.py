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


def test_clip_rule_on_both_sides_of_max_norm():
    """clip_by_total_norm itself against torch's clip_grad_norm_ on fixed gradients: max_norm
    below the total norm (scaled down) and above it (untouched), the branch a drawn fraction
    reaches only by chance."""
    import mindspore as ms
    import numpy as np
    import torch

    from ms_acmix.train.step import clip_by_total_norm

    rng = np.random.default_rng(7)
    grads = [rng.standard_normal(s).astype(np.float32) for s in ((3, 4), (5,), (2, 2, 3))]
    total = float(np.sqrt(sum((g.astype(np.float64) ** 2).sum() for g in grads)))
    for max_norm in (0.3 * total, 3.0 * total):
        got = clip_by_total_norm(tuple(ms.Tensor(g) for g in grads), max_norm)
        params = [torch.nn.Parameter(torch.zeros(g.shape)) for g in grads]
        for p, g in zip(params, grads):
            p.grad = torch.from_numpy(g.copy())
        torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type=2.0)
        for g_ms, p in zip(got, params):
            np.testing.assert_allclose(g_ms.asnumpy(), p.grad.numpy(), rtol=2e-6, atol=0)
